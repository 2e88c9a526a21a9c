"""Each user's private iCalendar feed of their meetings, and the account-page controls that make and stop it.

Calendar apps cannot sign in, so the feed's address carries a secret token instead. Only a hash of the
token is stored; the full address is shown once, when it is made; it can be stopped at any time; and it
never reaches a log (the request log shows route templates, not paths) or a redirect.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from icalendar import Calendar, Event
from icalendar.enums import STATUS
from icalendar.prop import vDuration
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect
from piccolo.columns.combination import Where

from circles.tables import CalendarFeed, Circle, CircleMembership, Meeting, MembershipStatus
from cosa import audit, i18n
from cosa.auth import new_token, public, signed_in, token_hash
from cosa.clock import utcnow
from cosa.db import is_postgres, write_transaction
from cosa.tables import Role, User
from cosa.web import flash
from volunteers.tables import Volunteer

Req = Request[Any, Any, Any]

FEED_SUFFIX = ".ics"
PAST_DAYS = 60  # how far back the feed reaches: recent meetings stay visible, old ones drop off
MAX_EVENTS = 1000  # a bound on one feed's size, far beyond any circle's year of meetings
MAX_TOKEN_LENGTH = 100
REFRESH = timedelta(hours=1)  # how often we suggest calendar apps fetch the feed again
UID_DOMAIN = "cosa-circles"


class CalendarAction:
    FEED_CREATED = "calendar.feed_created"
    FEED_REVOKED = "calendar.feed_revoked"


# --- the feed's address ------------------------------------------------------------------------------


async def live_feed(user_id: int) -> dict[str, Any] | None:
    """The user's feed that still works (at most one), without its secret, which is not kept."""
    return (
        await CalendarFeed.select(CalendarFeed.id, CalendarFeed.created_at)
        .where(CalendarFeed.user == user_id, CalendarFeed.revoked_at.is_null())
        .order_by(CalendarFeed.created_at, ascending=False)
        .first()
    )


async def _lock_user(user_id: int) -> None:
    """Serialise feed changes for one user on PostgreSQL, so two clicks cannot leave two live feeds.
    (SQLite's write transaction already holds the whole database's write lock.)"""
    if is_postgres():
        await User.select(User.id).where(User.id == user_id).lock_rows("UPDATE")


async def _revoke_live(user_id: int, now: datetime) -> list[int]:
    rows = await CalendarFeed.select(CalendarFeed.id).where(
        CalendarFeed.user == user_id, CalendarFeed.revoked_at.is_null()
    )
    ids = [row["id"] for row in rows]
    if ids:
        await CalendarFeed.update({CalendarFeed.revoked_at: now}).where(CalendarFeed.id.is_in(ids))
    return ids


async def create_feed(*, user: Any, now: datetime) -> str:
    """Make a new feed for the user, stopping any earlier one; returns the secret token (shown once)."""
    token = new_token()
    async with write_transaction():
        await _lock_user(user.id)
        revoked = await _revoke_live(user.id, now)
        feed = CalendarFeed(user=user.id, token_hash=token_hash(token), created_at=now, revoked_at=None)
        await feed.save()
        await audit.record(
            CalendarAction.FEED_CREATED,
            actor=user,
            object_type="calendar_feed",
            object_id=feed.id,
            detail={"revoked": revoked},
            now=now,
        )
    return token


async def revoke_feed(*, user: Any, now: datetime) -> bool:
    """Stop the user's feed; False when there was none to stop."""
    async with write_transaction():
        await _lock_user(user.id)
        revoked = await _revoke_live(user.id, now)
        for feed_id in revoked:
            await audit.record(
                CalendarAction.FEED_REVOKED, actor=user, object_type="calendar_feed", object_id=feed_id, now=now
            )
    return bool(revoked)


async def feed_owner(token: str) -> dict[str, Any] | None:
    """The active user whose live feed this token opens (id, role, locale), or None."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return (
        await CalendarFeed.select(
            CalendarFeed.user._.id.as_alias("id"),
            CalendarFeed.user._.role.as_alias("role"),
            CalendarFeed.user._.locale.as_alias("locale"),
        )
        .where(
            CalendarFeed.token_hash == token_hash(token),
            CalendarFeed.revoked_at.is_null(),
            CalendarFeed.user._.is_active.eq(True),
        )
        .first()
    )


def feed_url(request: Req, token: str) -> str:
    path = request.app.route_reverse("calendar:feed", feed_file=token + FEED_SUFFIX)
    return request.app.state.settings.base_url + path


async def account_context(user: Any) -> dict[str, Any]:
    """What the account page's calendar section needs (one query)."""
    return {"calendar_feed": await live_feed(user.id), "calendar_url": ""}


# --- the feed's content ------------------------------------------------------------------------------


def _meetings_scope(owner: dict[str, Any]) -> Where | None:
    """The circles whose meetings belong in this user's calendar: a volunteer's accepted circles, a
    coordinator's own circles; nobody else's."""
    if owner["role"] == Role.volunteer.value:
        return Meeting.circle.is_in(
            CircleMembership.select(CircleMembership.circle).where(
                CircleMembership.volunteer.is_in(Volunteer.select(Volunteer.id).where(Volunteer.user == owner["id"])),
                CircleMembership.status == MembershipStatus.accepted.value,
            )
        )
    if owner["role"] == Role.coordinator.value:
        return Meeting.circle.is_in(Circle.select(Circle.id).where(Circle.coordinator == owner["id"]))
    return None


async def meetings_for(owner: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """The user's meetings from PAST_DAYS ago onwards, with only what a calendar shows (one query)."""
    scope = _meetings_scope(owner)
    if scope is None:
        return []
    return (
        await Meeting.select(
            Meeting.public_id,
            Meeting.starts_at,
            Meeting.ends_at,
            Meeting.venue,
            Meeting.cancelled_at,
            Meeting.circle._.code_name.as_alias("code_name"),
        )
        .where(scope, Meeting.starts_at >= now - timedelta(days=PAST_DAYS))
        .order_by(Meeting.starts_at)
        .limit(MAX_EVENTS)
    )


def build_calendar(meetings: list[dict[str, Any]], now: datetime) -> bytes:
    """An RFC 5545 calendar of these meetings, in the current locale. The circle's code name stands for
    the core member: no names, notes or minutes, since phones sync calendars to other services."""
    calendar = Calendar()
    calendar.prodid = "-//CoSA Circles//EN"
    calendar.version = "2.0"
    calendar.calendar_name = "CoSA Circles"
    calendar.add("REFRESH-INTERVAL", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", vDuration(REFRESH))  # Apple's and Outlook's name for the same hint
    for meeting in meetings:
        event = Event.new(
            uid=f"{meeting['public_id']}@{UID_DOMAIN}",
            stamp=now.astimezone(UTC),
            start=meeting["starts_at"].astimezone(UTC),
            end=meeting["ends_at"].astimezone(UTC),
            summary=i18n.gettext("%(code_name)s meeting", code_name=meeting["code_name"]),
            location=meeting["venue"] or None,
            status=STATUS.CANCELLED if meeting["cancelled_at"] else STATUS.CONFIRMED,
        )
        calendar.add_component(event)
    return calendar.to_ical()


async def feed_body(owner: dict[str, Any], now: datetime) -> bytes:
    """The whole feed, its words in the owner's saved language (the calendar app's is not theirs)."""
    meetings = await meetings_for(owner, now)
    with i18n.in_locale(i18n.negotiate(owner["locale"], None)):
        return build_calendar(meetings, now)


# --- routes ------------------------------------------------------------------------------------------


class CalendarController(Controller):
    path = "/"
    tags = ["calendar"]

    @post("/account/calendar", name="calendar:create", guards=[signed_in])
    async def create(self, request: Req) -> Response[Any]:
        from cosa.accounts import AccountController  # here: cosa.accounts imports this module's helpers

        token = await create_feed(user=request.scope["user"], now=utcnow())
        flash(request, "success", i18n.gettext("Your new calendar link is ready. Copy it now: it is shown only once."))
        # Answered with the page itself, not a redirect: the address holds the secret, and it must not
        # travel in a Location header, a flash cookie or the browser's history.
        return await AccountController._page(request, calendar_url=feed_url(request, token))

    @post("/account/calendar/revoke", name="calendar:revoke", guards=[signed_in])
    async def revoke(self, request: Req) -> Response[Any]:
        if await revoke_feed(user=request.scope["user"], now=utcnow()):
            flash(
                request,
                "success",
                i18n.gettext("Your calendar link has stopped working. Calendars that used it will no longer update."),
            )
        return Redirect(path=request.app.route_reverse("account:detail"), status_code=303)

    @get("/calendar/{feed_file:str}", name="calendar:feed", guards=[public])
    async def feed(self, feed_file: FromPath[str]) -> Response[bytes]:
        """The feed itself: the token in the address is the only credential. An unknown, stopped or
        deactivated user's address answers a plain 404 (not audited: calendar apps keep polling old ones)."""
        token = feed_file.removesuffix(FEED_SUFFIX) if feed_file.endswith(FEED_SUFFIX) else ""
        owner = await feed_owner(token)
        if owner is None:
            raise NotFoundException()
        body = await feed_body(owner, utcnow())
        # Litestar adds "; charset=utf-8" to text/* types itself.
        return Response(content=body, media_type="text/calendar")
