"""A circle's lifecycle: which state may follow which, and what each step needs. Pure rules, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from circles.tables import CircleState as S

MIN_VOLUNTEERS = 3
MAX_VOLUNTEERS = 6

# The main path, one step at a time; tapering may go back to active when weekly meetings are needed again.
FORWARD: dict[str, tuple[str, ...]] = {
    S.referred: (S.accepted,),
    S.accepted: (S.forming,),
    S.forming: (S.active,),
    S.active: (S.tapering,),
    S.tapering: (S.ending, S.active),
    S.ending: (S.closed,),
}
PAUSABLE = (S.accepted, S.forming, S.active, S.tapering, S.ending)
FINISHED = (S.closed, S.terminated)
NEEDS_REASON = (S.paused, S.terminated)


@dataclass(frozen=True)
class CircleFacts:
    state: str
    state_before_pause: str
    accepted_volunteers: int
    covenant_signed: bool


def next_states(facts: CircleFacts) -> list[str]:
    """Every state the circle may move to now (conditions are checked separately by `problems`)."""
    if facts.state in FINISHED:
        return []
    if facts.state == S.paused:
        return [facts.state_before_pause or S.forming, S.terminated]
    options = list(FORWARD.get(facts.state, ()))
    if facts.state in PAUSABLE:
        options.append(S.paused)
    options.append(S.terminated)
    return options


def problems(facts: CircleFacts, target: str, reason: str) -> list[str]:
    """Codes of what stops this transition; empty when it may go ahead."""
    if target not in next_states(facts):
        return ["not_allowed"]
    found = []
    if target == S.active:
        if facts.accepted_volunteers < MIN_VOLUNTEERS:
            found.append("too_few_volunteers")
        if not facts.covenant_signed:
            found.append("covenant_not_signed")
    if target in NEEDS_REASON and not reason.strip():
        found.append("reason_required")
    return found
