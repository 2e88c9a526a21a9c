"""Which volunteers to propose for a circle, and why: a pure function over plain data.

The caller loads `Candidate`s and a `CircleProfile` and passes `today`; `rank()` does no I/O and reads no
clock. The coordinator decides; this module explains. Every proposal carries every hard exclusion that
applies (not just the first) and every soft factor with its points, so the page can say "not proposed,
and why" as well as "proposed, and why".

Hard exclusions (a `Reason` with 0 points in `Proposal.exclusions`; codes in `EXCLUSION_CODES`):
  conflicts with the core member's known risk connections, first, because they matter most:
    conflict_home_district      home district is a risk district
    conflict_declared_district  a declared district (family, community, past links) is a risk district
    conflict_declared_words     declared connections share a significant word with a risk description
    conflict_text_district      declared connections mention a risk district
  and then: not_active, vetting_incomplete, no_dbs, dbs_expired, at_capacity, in_this_circle.

  "Risk districts" are the circle's `risk_districts` plus any known postcode district written in a risk
  description ("the flat on Alfreton Road, NG7"). Districts are compared normalised ("ng7 " == "NG7", a
  full postcode counts as its district); a value that is not a district is compared as written, uppercased,
  so bad data errs towards exclusion. Words are compared case-, accent- and punctuation-insensitively; a
  word is significant when it has 4+ characters, is not only digits and is not in `STOPWORDS` (generic
  English and Welsh words, including kinship and place-type words such as "cousin" or "street", which say
  nothing about *which* person or place). A word matches its plural with a final "s" ("Smith", "Smiths").

Soft factors (one `Reason` each in `Proposal.contributions`, always all seven, in this order; the score is
their sum; codes in `FACTOR_CODES`):
  availability     +30 available at the circle's meeting slot; 0 not available, or no slot set yet
  languages        +15 per language shared with the core member, at most +30; +10 more when the core
                   member speaks no English and they share a language; 0 when none shared or unknown
  distance         home district to venue district: <=5 km +20, <=15 km +10, <=30 km 0, further -10;
                   0 when either district is unknown or not in the postcode list
  gender           +15 matches the core member's preference, -25 does not; 0 when there is no preference
                   or the volunteer's gender is not recorded ("" or "not_said")
  gender mix       +5 when every accepted member has the same (recorded) gender and the volunteer another
  experience       +10 when no accepted member has completed a circle and the volunteer has; otherwise
                   +2 per completed circle, at most +6
  current load     -5 per circle the volunteer serves in now, to spread the work

`Reason.detail` is a tuple of (key, value) pairs of plain values (str, int, float, date, tuple of str or
None), so reasons stay hashable; read one with `reason.get("district")`. `describe()` turns a reason into
a sentence in the reader's language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import TypeAlias

from cosa import i18n
from cosa.choices import gender_choices, slot_choices
from cosa.languages import language_name
from volunteers import postcodes
from volunteers.rules import normalise_district
from volunteers.tables import VolunteerStatus

# Soft factor weights (points). Positive means more suitable; the coordinator sees every one.
POINTS_AVAILABLE = 30.0
POINTS_PER_SHARED_LANGUAGE = 15.0
MAX_LANGUAGE_POINTS = 30.0
POINTS_SHARED_LANGUAGE_WITHOUT_ENGLISH = 10.0
# (up to this many km, points, code), nearest first; beyond the last band: POINTS_DISTANCE_BEYOND.
DISTANCE_BANDS: tuple[tuple[float, float, str], ...] = (
    (5.0, 20.0, "distance_near"),
    (15.0, 10.0, "distance_moderate"),
    (30.0, 0.0, "distance_far"),
)
POINTS_DISTANCE_BEYOND = -10.0
POINTS_GENDER_PREFERENCE_MET = 15.0
POINTS_GENDER_PREFERENCE_NOT_MET = -25.0
POINTS_GENDER_MIX = 5.0
POINTS_FIRST_EXPERIENCE = 10.0
POINTS_PER_COMPLETED_CIRCLE = 2.0
MAX_EXPERIENCE_POINTS = 6.0
POINTS_PER_ACTIVE_CIRCLE = -5.0

ENGLISH = "en"
UNKNOWN_GENDERS = frozenset({"", "not_said"})

EXCLUSION_CODES = (
    "conflict_home_district",
    "conflict_declared_district",
    "conflict_declared_words",
    "conflict_text_district",
    "not_active",
    "vetting_incomplete",
    "no_dbs",
    "dbs_expired",
    "at_capacity",
    "in_this_circle",
)
FACTOR_CODES = (
    "available_at_slot",
    "not_available_at_slot",
    "no_meeting_slot",
    "shared_languages",
    "shared_language_no_english",
    "no_shared_language",
    "languages_not_recorded",
    "core_member_languages_not_recorded",
    "distance_near",
    "distance_moderate",
    "distance_far",
    "distance_very_far",
    "home_district_unknown",
    "venue_district_unknown",
    "district_not_found",
    "gender_preference_met",
    "gender_preference_not_met",
    "no_gender_preference",
    "gender_not_recorded",
    "gender_mix_widened",
    "gender_mix_unchanged",
    "brings_experience",
    "experience",
    "no_experience",
    "current_circles",
    "no_current_circles",
)
ALL_CODES = EXCLUSION_CODES + FACTOR_CODES

# Generic words that say nothing about *which* person, place or community is meant. Folded form
# (lowercase, no accents); only words of 4+ characters matter, shorter ones are never significant.
_STOPWORD_TEXT = """
    about above across after again against along also although among another around away back because
    been before behind being below beside between both came come comes could does doing done down during
    each either else even ever every from further gets going gone have having here hers herself himself
    into itself just like made make makes many more most much must near nearby never next none often once
    only onto other others ours over quite rather really said same seen should since some someone
    something sometimes still such than that their theirs them themselves then there these they thing
    things this those though through told took under until upon used uses using very want well went were
    what when where which while whom whose will with within without would your yours yourself
    family families friend friends community communities people person persons place places known know
    knows knew live lives lived living area areas street streets road roads lane avenue close house home
    flat town city centre center local work works worked working year years time times past former
    previous previously currently contact contacts connection connections link links linked member members
    group groups associate associates neighbour neighbours mother father brother sister cousin uncle aunt
    auntie nephew niece daughter wife husband partner parent parents child children grandmother
    grandfather grandparent grandparents relative relatives
    gyda hefo oedd roedd maen hefyd rhwng wedi ynghyd ynghylch drwy trwy dros mewn hwnnw honno hynny rhai
    arall eraill sydd bydd fydd iddo iddi iddyn arno arni eich felly achos oherwydd iawn wrth rhywun
    rhywbeth unrhyw pawb yno yma teulu teuluoedd ffrind ffrindiau cymuned cymunedau cymunedol pobl lleoedd
    ardal ardaloedd stryd strydoedd ffordd ffyrdd heol gwaith gweithio blwyddyn blynedd blynyddoedd amser
    adref cartref dinas tref canol agos brawd chwaer cefnder cyfnither ewythr modryb rhieni plant plentyn
    gwraig perthynas perthnasau aelod aelodau grwp cyswllt cysylltiad cysylltiadau adnabod nabod arfer gynt
    blaenorol nawr rwan weithiau
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_WORD = re.compile(r"[^\W_]+")
_GLUED_POSTCODE = re.compile(r"\b([a-z]{1,2}[0-9][0-9a-z]?)[0-9][a-z]{2}\b")
_COMBINING_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# Letters that NFKD does not split into a base letter and an accent.
_UNSPLIT_LETTERS = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe"})

DetailValue: TypeAlias = str | int | float | date | tuple[str, ...] | None
Detail: TypeAlias = tuple[tuple[str, DetailValue], ...]


@dataclass(frozen=True, slots=True)
class Candidate:
    public_id: str
    name: str
    status: str  # a VolunteerStatus value
    missing: tuple[str, ...]  # codes from rules.missing_for_active(), computed by the caller for `today`
    dbs_expires_on: date | None
    active_circles: int  # circles they serve in now (accepted, circle not closed or terminated)
    max_circles: int
    circles_completed: int
    gender: str  # "woman", "man", "non_binary", "other", "not_said" or ""
    languages: frozenset[str]  # ISO 639-1 codes
    home_district: str  # e.g. "NG7"; "" when unknown
    availability: frozenset[str]  # slots such as "mon-evening"
    declared_districts: frozenset[str]
    declared_connections: str  # free text: family, community, past links
    in_this_circle: bool  # already invited to or a member of this circle


@dataclass(frozen=True, slots=True)
class CircleProfile:
    meeting_slot: str | None  # e.g. "mon-evening"; None when there is no usual slot yet
    venue_district: str  # "" when unknown
    languages: frozenset[str]  # the core member's languages
    gender_preference: str  # "" for none, else the gender the core member prefers volunteers to have
    risk_districts: frozenset[str]  # postcode districts of the core member's known risk connections
    risk_descriptions: tuple[str, ...]  # free text of those connections: people, places, communities
    member_genders: tuple[str, ...]  # genders of volunteers already accepted into the circle
    member_experience: tuple[int, ...]  # circles_completed of those volunteers


@dataclass(frozen=True, slots=True)
class Reason:
    code: str  # one of ALL_CODES
    points: float = 0.0  # contribution to the score; 0 for exclusions
    detail: Detail = ()  # (key, value) pairs for the message, e.g. (("district", "NG7"),)

    def get(self, key: str, default: DetailValue = None) -> DetailValue:
        for name, value in self.detail:
            if name == key:
                return value
        return default


@dataclass(frozen=True, slots=True)
class Proposal:
    candidate: Candidate
    score: float  # the sum of the contributions' points
    contributions: tuple[Reason, ...]  # every soft factor, each with its points (0 and negative too)
    exclusions: tuple[Reason, ...]  # every hard exclusion that applies

    @property
    def excluded(self) -> bool:
        return bool(self.exclusions)


def rank(candidates: Iterable[Candidate], circle: CircleProfile, today: date) -> list[Proposal]:
    """Every candidate once: eligible ones by score (highest first) then name, then excluded ones by name."""
    context = _Context(circle, today)
    proposals = [context.propose(candidate) for candidate in candidates]
    # Stable sorts from the last tie-breaker to the first: cheaper than a tuple key per proposal.
    proposals.sort(key=lambda p: p.candidate.public_id)
    proposals.sort(key=lambda p: p.candidate.name)
    proposals.sort(key=lambda p: p.candidate.name.casefold())
    eligible = [p for p in proposals if not p.exclusions]
    eligible.sort(key=lambda p: -p.score)
    return eligible + [p for p in proposals if p.exclusions]


def propose(candidate: Candidate, circle: CircleProfile, today: date) -> Proposal:
    """One candidate's proposal, exactly as rank() would make it (for a volunteer's own page, say)."""
    return _Context(circle, today).propose(candidate)


@lru_cache(maxsize=16384)
def _district(value: str) -> str:
    """A district for comparison: normalised when it is one, else as written (uppercased, no spaces)."""
    return normalise_district(value) or "".join(value.split()).upper()


def _fold(text: str) -> str:
    """Lowercase without accents, so 'Łódź' and 'lodz' compare equal; punctuation is left to _WORD."""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKD", text.casefold())
    return _COMBINING_MARKS.sub("", text).translate(_UNSPLIT_LETTERS)


def _significant(word: str) -> bool:
    if len(word) < 4 or word.isdigit() or word in STOPWORDS:
        return False
    return not (word.endswith("s") and word[:-1] in STOPWORDS)


def _forms(word: str) -> tuple[str, ...]:
    """The forms a folded word matches: itself, with a final 's', and without one."""
    if word.endswith("s") and len(word) > 4:
        return word, word + "s", word[:-1]
    return word, word + "s"


def _districts_in(folded: str, words: Iterable[str]) -> set[str]:
    """Postcode districts written in a text: 'NG7', 'ng7 1ab', 'NG71AB'."""
    found = {d for d in (normalise_district(w) for w in words if not w.isalpha()) if d}
    found.update(d.upper() for d in _GLUED_POSTCODE.findall(folded))
    return found


def _display_words(text: str, folded_hits: set[str]) -> tuple[str, ...]:
    """The declared text's own spelling of the words that matched, in the order they appear."""
    if text.isascii():  # folding kept every character in place: find each hit, slice the original
        folded = text.lower()
        found = [(match.start(), match.end()) for match in map(_whole_word(folded), folded_hits) if match]
        return tuple(text[start:end] for start, end in sorted(found))
    shown: dict[str, str] = {}
    for word in _WORD.findall(unicodedata.normalize("NFC", text)):
        folded_word = _fold(word)
        if folded_word in folded_hits and folded_word not in shown:
            shown[folded_word] = word
    return tuple(shown.values())


def _whole_word(text: str) -> Callable[[str], re.Match[str] | None]:
    return lambda word: re.search(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])", text)


class _Context:
    """What ranking needs from one circle, computed once, with caches keyed by candidates' values.

    Most candidates share their languages, home district, experience or load with others, so each soft
    factor's Reason is built once per distinct value rather than once per candidate.
    """

    def __init__(self, circle: CircleProfile, today: date) -> None:
        self.today = today
        risk_text = _fold(" ".join(unicodedata.normalize("NFC", d) for d in circle.risk_descriptions))
        risk_words = set(_WORD.findall(risk_text))
        text_districts = _districts_in(risk_text, risk_words)
        known = postcodes.centroids()
        # Districts compared with the volunteer's home and declared districts.
        self.risk_districts = frozenset(_district(d) for d in circle.risk_districts if d.strip()) | {
            d for d in text_districts if d in known
        }
        # Districts looked for in the declared text: also unknown ones written in the risk text.
        self.risk_text_districts = self.risk_districts | text_districts
        self.risk_district_words = frozenset(d.lower() for d in self.risk_text_districts)
        self.risk_word_forms = frozenset(form for w in risk_words if _significant(w) for form in _forms(w))
        self.risk_tokens = self.risk_word_forms | self.risk_district_words
        self.languages = frozenset(code.strip().lower() for code in circle.languages if code.strip())
        self.no_english = bool(self.languages) and ENGLISH not in self.languages
        self.preference = circle.gender_preference.strip()
        self.venue = _district(circle.venue_district) if circle.venue_district.strip() else ""
        self.venue_centroid = known.get(self.venue) if self.venue else None
        self.slot = circle.meeting_slot or ""
        self.available = Reason("available_at_slot", POINTS_AVAILABLE, (("slot", self.slot),))
        self.not_available = Reason("not_available_at_slot", 0.0, (("slot", self.slot),))
        self.no_slot = Reason("no_meeting_slot")
        genders = set(circle.member_genders)
        self.members_gender = next(iter(genders)) if len(genders) == 1 and not genders & UNKNOWN_GENDERS else None
        self.members_experienced = any(n > 0 for n in circle.member_experience)
        self._languages: dict[frozenset[str], Reason] = {}
        self._distance: dict[str, Reason] = {}
        self._gender: dict[str, tuple[Reason, Reason]] = {}
        self._experience: dict[int, Reason] = {}
        self._load: dict[int, Reason] = {}
        self._exclusion_reasons: dict[tuple[str, DetailValue], Reason] = {}
        self._capacity: dict[tuple[int, int], Reason] = {}
        self._declared_districts: dict[frozenset[str], Reason | None] = {}
        self._text: dict[str, tuple[Reason, ...]] = {}

    def propose(self, c: Candidate) -> Proposal:
        if not self.slot:
            availability = self.no_slot
        else:
            availability = self.available if self.slot in c.availability else self.not_available
        languages = self._languages.get(c.languages) or self._languages.setdefault(
            c.languages, self._language_reason(c.languages)
        )
        distance = self._distance.get(c.home_district) or self._distance.setdefault(
            c.home_district, self._distance_reason(c.home_district)
        )
        gender = self._gender.get(c.gender) or self._gender.setdefault(c.gender, self._gender_reasons(c.gender))
        experience = self._experience.get(c.circles_completed) or self._experience.setdefault(
            c.circles_completed, self._experience_reason(c.circles_completed)
        )
        load = self._load.get(c.active_circles) or self._load.setdefault(
            c.active_circles, self._load_reason(c.active_circles)
        )
        contributions = (availability, languages, distance, gender[0], gender[1], experience, load)
        # The sum of the contributions, written out because this runs once per volunteer per page.
        score = (
            availability.points
            + languages.points
            + distance.points
            + gender[0].points
            + gender[1].points
            + experience.points
            + load.points
        )
        return Proposal(c, score, contributions, self._exclusions(c))

    # Hard exclusions

    def _exclusions(self, c: Candidate) -> tuple[Reason, ...]:
        found: list[Reason] = []
        if c.home_district:
            home = _district(c.home_district)
            if home in self.risk_districts:
                found.append(self._excluded("conflict_home_district", "district", home))
        if c.declared_districts:
            if c.declared_districts not in self._declared_districts:
                self._declared_districts[c.declared_districts] = self._declared_district_conflict(c.declared_districts)
            declared = self._declared_districts[c.declared_districts]
            if declared is not None:
                found.append(declared)
        if c.declared_connections:
            text = self._text.get(c.declared_connections)
            if text is None:
                text = self._text[c.declared_connections] = self._text_conflicts(c.declared_connections)
            found.extend(text)
        if c.status != VolunteerStatus.active:
            found.append(self._excluded("not_active", "status", c.status))
        dbs = None
        if c.dbs_expires_on is None:
            dbs = self._excluded("no_dbs")
        elif c.dbs_expires_on <= self.today:
            dbs = self._excluded("dbs_expired", "expired_on", c.dbs_expires_on)
        if c.missing:
            # A DBS problem already has its own exclusion; anything else missing (including a "dbs_expired"
            # the caller saw that the date above does not show) stops them too.
            missing = tuple(code for code in c.missing if not (dbs and code in ("dbs", "dbs_expired")))
            if missing:
                found.append(self._excluded("vetting_incomplete", "missing", missing))
        if dbs:
            found.append(dbs)
        if c.active_circles >= c.max_circles:
            found.append(self._at_capacity(c.active_circles, c.max_circles))
        if c.in_this_circle:
            found.append(self._excluded("in_this_circle"))
        return tuple(found)

    def _excluded(self, code: str, key: str = "", value: DetailValue = None) -> Reason:
        """One shared Reason per distinct exclusion: fewer objects for the garbage collector to track."""
        reason = self._exclusion_reasons.get((code, value))
        if reason is None:
            reason = Reason(code, 0.0, ((key, value),) if key else ())
            self._exclusion_reasons[code, value] = reason
        return reason

    def _at_capacity(self, active: int, most: int) -> Reason:
        reason = self._capacity.get((active, most))
        if reason is None:
            reason = Reason("at_capacity", 0.0, (("active_circles", active), ("max_circles", most)))
            self._capacity[active, most] = reason
        return reason

    def _declared_district_conflict(self, declared: frozenset[str]) -> Reason | None:
        shared = sorted({_district(d) for d in declared if d.strip()} & self.risk_districts)
        return Reason("conflict_declared_district", 0.0, (("districts", tuple(shared)),)) if shared else None

    def _text_conflicts(self, text: str) -> tuple[Reason, ...]:
        folded = _fold(text if text.isascii() else unicodedata.normalize("NFC", text))
        words = _WORD.findall(folded)
        if self.risk_tokens.isdisjoint(words) and not _GLUED_POSTCODE.search(folded):
            return ()  # most texts: nothing in common with the risk descriptions
        found = []
        hits = {w for w in self.risk_word_forms.intersection(words) if _significant(w)}
        if hits:
            found.append(Reason("conflict_declared_words", 0.0, (("words", _display_words(text, hits)),)))
        districts = {d.upper() for d in self.risk_district_words.intersection(words)}
        districts.update(d for d in _districts_in(folded, ()) if d in self.risk_text_districts)
        if districts:
            found.append(Reason("conflict_text_district", 0.0, (("districts", tuple(sorted(districts))),)))
        return tuple(found)

    # Soft factors

    def _language_reason(self, spoken: frozenset[str]) -> Reason:
        if not self.languages:
            return Reason("core_member_languages_not_recorded")
        if not spoken:
            return Reason("languages_not_recorded")
        shared = tuple(sorted(self.languages.intersection(code.strip().lower() for code in spoken)))
        if not shared:
            return Reason("no_shared_language")
        points = min(POINTS_PER_SHARED_LANGUAGE * len(shared), MAX_LANGUAGE_POINTS)
        if self.no_english:
            points += POINTS_SHARED_LANGUAGE_WITHOUT_ENGLISH
            return Reason("shared_language_no_english", points, (("languages", shared),))
        return Reason("shared_languages", points, (("languages", shared),))

    def _distance_reason(self, home_district: str) -> Reason:
        if not self.venue:
            return Reason("venue_district_unknown")
        if not home_district.strip():
            return Reason("home_district_unknown")
        if self.venue_centroid is None:
            return Reason("district_not_found", 0.0, (("district", self.venue),))
        home = _district(home_district)
        home_centroid = postcodes.centroids().get(home)
        if home_centroid is None:
            return Reason("district_not_found", 0.0, (("district", home),))
        km = postcodes.haversine_km(home_centroid, self.venue_centroid)
        detail: Detail = (("km", round(km, 1)), ("home", home), ("venue", self.venue))
        for limit, points, code in DISTANCE_BANDS:
            if km <= limit:
                return Reason(code, points, detail)
        return Reason("distance_very_far", POINTS_DISTANCE_BEYOND, detail)

    def _gender_reasons(self, gender: str) -> tuple[Reason, Reason]:
        if not self.preference:
            preference = Reason("no_gender_preference")
        elif gender in UNKNOWN_GENDERS:
            preference = Reason("gender_not_recorded", 0.0, (("preferred", self.preference),))
        elif gender == self.preference:
            preference = Reason("gender_preference_met", POINTS_GENDER_PREFERENCE_MET, (("preferred", gender),))
        else:
            preference = Reason(
                "gender_preference_not_met", POINTS_GENDER_PREFERENCE_NOT_MET, (("preferred", self.preference),)
            )
        if self.members_gender is not None and gender not in UNKNOWN_GENDERS and gender != self.members_gender:
            mix = Reason("gender_mix_widened", POINTS_GENDER_MIX, (("members", self.members_gender),))
        else:
            mix = Reason("gender_mix_unchanged")
        return preference, mix

    def _experience_reason(self, completed: int) -> Reason:
        if completed <= 0:
            return Reason("no_experience")
        if not self.members_experienced:
            return Reason("brings_experience", POINTS_FIRST_EXPERIENCE, (("circles", completed),))
        points = min(POINTS_PER_COMPLETED_CIRCLE * completed, MAX_EXPERIENCE_POINTS)
        return Reason("experience", points, (("circles", completed),))

    def _load_reason(self, active: int) -> Reason:
        if active <= 0:
            return Reason("no_current_circles")
        return Reason("current_circles", POINTS_PER_ACTIVE_CIRCLE * active, (("circles", active),))


# Explanations


def describe(reason: Reason) -> str:
    """The reason as a plain sentence for coordinators, in the reader's language."""
    try:
        explain = _EXPLANATIONS[reason.code]
    except KeyError:
        raise ValueError(f"no explanation for matching reason {reason.code!r}") from None
    return explain(reason)


def _text(reason: Reason, key: str) -> str:
    value = reason.get(key)
    return "" if value is None else str(value)


def _items(reason: Reason, key: str) -> tuple[str, ...]:
    value = reason.get(key)
    if isinstance(value, tuple):
        return value
    return () if value is None else (str(value),)


def _number(reason: Reason, key: str) -> int:
    value = reason.get(key)
    return int(value) if isinstance(value, int | float) else 0


def _joined(values: Iterable[str]) -> str:
    # A plain comma list reads correctly in English and Welsh (CLDR's Welsh "a(c)" does not).
    return ", ".join(values)


def _quoted(words: Iterable[str]) -> str:
    return _joined(f"‘{word}’" for word in words)


def _slot(reason: Reason) -> str:
    slot = _text(reason, "slot")
    return slot_choices().get(slot, slot)


def _gender(value: str) -> str:
    return gender_choices().get(value, value)


def _status(value: str) -> str:
    labels = {
        VolunteerStatus.applicant.value: i18n.gettext("an applicant"),
        VolunteerStatus.in_vetting.value: i18n.gettext("in vetting"),
        VolunteerStatus.trained.value: i18n.gettext("trained, not yet active"),
        VolunteerStatus.resting.value: i18n.gettext("resting"),
        VolunteerStatus.left.value: i18n.gettext("has left"),
    }
    return labels.get(value, value)


def _missing_item(code: str) -> str:
    labels = {
        "interview": i18n.gettext("interview"),
        "references": i18n.gettext("two references"),
        "dbs": i18n.gettext("DBS check"),
        "dbs_expired": i18n.gettext("DBS check renewal"),
        "training_core": i18n.gettext("core CoSA training"),
        "training_msht": i18n.gettext("modern slavery and human trafficking training"),
        "training_trauma": i18n.gettext("trauma-informed practice training"),
    }
    return labels.get(code, code)


def _at_capacity(reason: Reason) -> str:
    active = _number(reason, "active_circles")
    if _number(reason, "max_circles") <= 0:
        return i18n.gettext("Has set their limit to no circles at the moment")
    return i18n.ngettext(
        "Already serves in %(num)d circle, the most they have said they can take on",
        "Already serves in %(num)d circles, the most they have said they can take on",
        active,
    )


def _km(reason: Reason) -> float:
    value = reason.get("km")
    return float(value) if isinstance(value, int | float) else 0.0


def _distance(reason: Reason) -> str:
    if _km(reason) < 1:
        return i18n.gettext("Less than 1 km from the venue")
    return i18n.gettext("About %(km)d km from the venue", km=round(_km(reason)))


def _distance_very_far(reason: Reason) -> str:
    return i18n.gettext("About %(km)d km from the venue, a long way to travel every week", km=round(_km(reason)))


def _dbs_expired(reason: Reason) -> str:
    expired_on = reason.get("expired_on")
    return i18n.gettext(
        "DBS check expired on %(date)s", date=i18n.format_date(expired_on) if isinstance(expired_on, date) else ""
    )


def _shared_languages(reason: Reason) -> str:
    names = _items(reason, "languages")
    return i18n.ngettext(
        "Shares %(num)d language with the core member: %(languages)s",
        "Shares %(num)d languages with the core member: %(languages)s",
        len(names),
        languages=_joined(language_name(code) for code in names),
    )


def _experience(reason: Reason) -> str:
    return i18n.ngettext("Has completed %(num)d circle", "Has completed %(num)d circles", _number(reason, "circles"))


_EXPLANATIONS: Mapping[str, Callable[[Reason], str]] = {
    # Exclusions
    "conflict_home_district": lambda r: i18n.gettext(
        "Lives in %(district)s, where the core member has known risk connections", district=_text(r, "district")
    ),
    "conflict_declared_district": lambda r: i18n.gettext(
        "Has declared links to %(districts)s, where the core member has known risk connections",
        districts=_joined(_items(r, "districts")),
    ),
    "conflict_declared_words": lambda r: i18n.ngettext(
        "Declared connections mention %(words)s, which also appears in the core member's risk connections",
        "Declared connections mention %(words)s, which also appear in the core member's risk connections",
        len(_items(r, "words")),
        words=_quoted(_items(r, "words")),
    ),
    "conflict_text_district": lambda r: i18n.gettext(
        "Declared connections mention %(districts)s, where the core member has known risk connections",
        districts=_joined(_items(r, "districts")),
    ),
    "not_active": lambda r: i18n.gettext(
        "Not an active volunteer at the moment (%(status)s)", status=_status(_text(r, "status"))
    ),
    "vetting_incomplete": lambda r: i18n.gettext(
        "Vetting or training not finished: %(items)s still to do",
        items=_joined(_missing_item(code) for code in _items(r, "missing")),
    ),
    "no_dbs": lambda r: i18n.gettext("No DBS check recorded"),
    "dbs_expired": _dbs_expired,
    "at_capacity": _at_capacity,
    "in_this_circle": lambda r: i18n.gettext("Already invited to or a member of this circle"),
    # Availability
    "available_at_slot": lambda r: i18n.gettext("Available at the circle's usual time (%(slot)s)", slot=_slot(r)),
    "not_available_at_slot": lambda r: i18n.gettext(
        "Not available at the circle's usual time (%(slot)s)", slot=_slot(r)
    ),
    "no_meeting_slot": lambda r: i18n.gettext(
        "The circle has no usual meeting time yet, so availability was not compared"
    ),
    # Languages
    "shared_languages": _shared_languages,
    "shared_language_no_english": lambda r: i18n.gettext(
        "Speaks %(languages)s with the core member, who does not speak English",
        languages=_joined(language_name(code) for code in _items(r, "languages")),
    ),
    "no_shared_language": lambda r: i18n.gettext("No language in common with the core member"),
    "languages_not_recorded": lambda r: i18n.gettext("Languages not recorded"),
    "core_member_languages_not_recorded": lambda r: i18n.gettext("The core member's languages are not recorded"),
    # Distance
    "distance_near": _distance,
    "distance_moderate": _distance,
    "distance_far": _distance,
    "distance_very_far": _distance_very_far,
    "home_district_unknown": lambda r: i18n.gettext("No home postcode district recorded, so the distance is not known"),
    "venue_district_unknown": lambda r: i18n.gettext(
        "The circle's venue has no postcode district yet, so the distance is not known"
    ),
    "district_not_found": lambda r: i18n.gettext(
        "Distance not known: %(district)s is not in our list of postcode districts", district=_text(r, "district")
    ),
    # Gender preference and the circle's gender mix
    "gender_preference_met": lambda r: i18n.gettext(
        "Matches the core member's gender preference (%(gender)s)",
        gender=_gender(_text(r, "preferred")),
    ),
    "gender_preference_not_met": lambda r: i18n.gettext(
        "Does not match the core member's gender preference (%(gender)s)", gender=_gender(_text(r, "preferred"))
    ),
    "no_gender_preference": lambda r: i18n.gettext("The core member has no gender preference for volunteers"),
    "gender_not_recorded": lambda r: i18n.gettext(
        "Gender not recorded, so the core member's preference was not compared"
    ),
    "gender_mix_widened": lambda r: i18n.gettext(
        "Would widen the circle's gender mix (so far every volunteer is: %(gender)s)",
        gender=_gender(_text(r, "members")),
    ),
    "gender_mix_unchanged": lambda r: i18n.gettext("No change to the circle's gender mix"),
    # Experience and load
    "brings_experience": lambda r: i18n.ngettext(
        "Brings experience the circle lacks: has completed %(num)d circle",
        "Brings experience the circle lacks: has completed %(num)d circles",
        _number(r, "circles"),
    ),
    "experience": _experience,
    "no_experience": lambda r: i18n.gettext("Has not completed a circle yet"),
    "current_circles": lambda r: i18n.ngettext(
        "Already serves in %(num)d circle", "Already serves in %(num)d circles", _number(r, "circles")
    ),
    "no_current_circles": lambda r: i18n.gettext("Not serving in any circle at the moment"),
}
