"""Meeting pages: scheduling, changing one or the rest of a series, attendance, minutes."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from circles import meeting_services as meetings
from circles.circle_pages import circle_or_404, circle_url, coordinators
from circles.core_member_pages import today
from circles.schedule import clashes, occurrences
from circles.services import circle_scope
from circles.tables import Attendance, AttendanceStatus, Circle, Frequency, Meeting, MinutesStatus
from cosa import i18n
from cosa.auth import found_or_deny, roles
from cosa.clock import utcnow
from cosa.forms import FormResult, check_choice, check_date, check_int, read_form
from cosa.i18n import LONDON
from cosa.tables import Role
from cosa.web import flash, render

Req = Request[Any, Any, Any]
meeting_readers = roles(Role.coordinator, Role.volunteer, Role.probation)
volunteers_only = roles(Role.volunteer)


def frequency_labels() -> dict[str, str]:
    return {
        Frequency.once: i18n.gettext("Just once"),
        Frequency.weekly: i18n.gettext("Every week"),
        Frequency.fortnightly: i18n.gettext("Every two weeks"),
        Frequency.monthly: i18n.gettext("Every month, on the same weekday"),
    }


def attendance_labels() -> dict[str, str]:
    return {
        AttendanceStatus.attended: i18n.gettext("Attended"),
        AttendanceStatus.apologies: i18n.gettext("Sent apologies"),
        AttendanceStatus.absent: i18n.gettext("Absent"),
    }


def minutes_labels() -> dict[str, str]:
    return {
        MinutesStatus.none: i18n.gettext("Not started"),
        MinutesStatus.draft: i18n.gettext("Draft"),
        MinutesStatus.submitted: i18n.gettext("Waiting for review"),
        MinutesStatus.approved: i18n.gettext("Approved"),
    }


def check_time(result: FormResult, name: str) -> time | None:
    raw = result.values.get(name, "").strip()
    try:
        return time.fromisoformat(raw) if raw else None
    except ValueError:
        pass
    result.error(name, i18n.gettext("Enter a time like 18:30."))
    return None


async def meeting_or_404(request: Req, public_id: Any) -> dict[str, Any]:
    """A meeting of a circle the user may reach; probation officers only once its minutes are shared."""
    user = request.scope["user"]
    query = Meeting.select().where(
        Meeting.public_id == public_id, Meeting.circle.is_in(Circle.select(Circle.id).where(circle_scope(user)))
    )
    if user.role == Role.probation.value:
        query = query.where(Meeting.minutes_shared_at.is_not_null())
    return await found_or_deny(request, await query.first(), "meeting", public_id)


class MeetingController(Controller):
    @get("/circles/{public_id:uuid}/meetings/new", name="circles:meeting_new", guards=[coordinators])
    async def new_page(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        circle = await circle_or_404(request, public_id)
        values = {
            "frequency": "weekly",
            "duration": "90",
            "venue": circle["venue"],
            "first_on": self._next_usual_day(circle),
        }
        if circle["meeting_time"] is not None:
            values["at"] = circle["meeting_time"].strftime("%H:%M")
        return render(
            request,
            "circles/meeting_form.html",
            {"circle": circle, "values": values, "frequencies": frequency_labels()},
        )

    @staticmethod
    def _next_usual_day(circle: dict[str, Any]) -> str:
        day = today()
        if circle["meeting_weekday"] is not None:
            day += timedelta(days=(circle["meeting_weekday"] - day.weekday()) % 7)
        return day.isoformat()

    @post("/circles/{public_id:uuid}/meetings/new", name="circles:meeting_create", guards=[coordinators])
    async def create(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        circle = await circle_or_404(request, public_id)
        result = FormResult(await read_form(request))
        on = today()
        first_on = check_date(
            result, "first_on", required_message=i18n.gettext("Enter the date of the first meeting."), not_before=on
        )
        at = check_time(result, "at")
        if at is None and "at" not in result.errors:
            result.error("at", i18n.gettext("Enter the time the meeting starts."))
        duration = check_int(result, "duration", minimum=15, maximum=300, default=90)
        frequency = check_choice(
            result, "frequency", frequency_labels(), i18n.gettext("Choose how often the circle meets.")
        )
        until_on = check_date(result, "until_on")
        if until_on and first_on and until_on < first_on:
            result.error("until_on", i18n.gettext("The last date cannot be before the first meeting."))
        venue = " ".join(result.values.get("venue", "").split())[:120]
        context = {"circle": circle, "frequencies": frequency_labels(), "values": result.values}
        if not result.ok or first_on is None or at is None or duration is None:
            return render(request, "circles/meeting_form.html", {**context, "errors": result.errors}, status_code=400)
        now = utcnow()
        planned = occurrences(frequency, first_on, at, duration, until_on, on)
        if not result.values.get("confirm"):
            seated = await meetings.seated_volunteers(circle["id"])
            found = clashes(
                planned,
                await meetings.bookings_of(
                    [s["volunteer"] for s in seated], circle["id"], planned[0][0], planned[-1][1]
                ),
            )
            if found:
                return render(
                    request, "circles/meeting_form.html", {**context, "clashes": found[:20], "clash_count": len(found)}
                )
        count = await meetings.schedule(
            by=request.scope["user"],
            circle=circle,
            frequency=frequency,
            first_on=first_on,
            at=at,
            duration_minutes=duration,
            until_on=until_on,
            venue=venue,
            now=now,
        )
        flash(request, "success", i18n.ngettext("%(num)s meeting scheduled.", "%(num)s meetings scheduled.", count))
        return Redirect(path=circle_url(request, public_id, "#meetings"), status_code=303)

    @get("/meetings/{public_id:uuid}", name="circles:meeting", guards=[meeting_readers])
    async def detail(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        meeting = await meeting_or_404(request, public_id)
        return render(request, "circles/meeting.html", await self._context(request, meeting))

    async def _context(self, request: Req, meeting: dict[str, Any], **extra: Any) -> dict[str, Any]:
        user = request.scope["user"]
        circle = (
            await Circle.select(Circle.public_id, Circle.code_name, Circle.id)
            .where(Circle.id == meeting["circle"])
            .first()
        )
        assert circle is not None
        seated = await meetings.seated_volunteers(meeting["circle"])
        attendance = {
            row["volunteer"]: row["status"]
            for row in await Attendance.select().where(Attendance.meeting == meeting["id"])
        }
        my_volunteer_id = await meetings.volunteer_id_of(user) if user.role == Role.volunteer.value else None
        now = utcnow()
        return {
            "meeting": meeting,
            "circle": circle,
            "seated": seated,
            "attendance": attendance,
            "attendance_labels": attendance_labels(),
            "minutes_labels": minutes_labels(),
            "is_coordinator": user.role == Role.coordinator.value,
            "is_minute_taker": my_volunteer_id is not None and my_volunteer_id == meeting["minute_taker"],
            "minute_taker_choices": {str(s["volunteer"]): s["volunteer.display_name"] for s in seated},
            "minute_taker_name": next(
                (s["volunteer.display_name"] for s in seated if s["volunteer"] == meeting["minute_taker"]), ""
            ),
            "due_at": meetings.minutes_due_at(meeting),
            "overdue": meetings.minutes_overdue(meeting, now),
            "past": meeting["starts_at"] <= now,
            "local_day": meeting["starts_at"].astimezone(LONDON).date().isoformat(),
            "local_time": meeting["starts_at"].astimezone(LONDON).strftime("%H:%M"),
            **extra,
        }

    async def _again(self, request: Req, meeting: dict[str, Any], **extra: Any) -> Response[Any]:
        return render(request, "circles/meeting.html", await self._context(request, meeting, **extra), status_code=400)

    def _back(self, request: Req, meeting: dict[str, Any], anchor: str = "") -> Response[Any]:
        return Redirect(
            path=request.app.route_reverse("circles:meeting", public_id=meeting["public_id"]) + anchor, status_code=303
        )

    @post("/meetings/{public_id:uuid}/reschedule", name="circles:meeting_reschedule", guards=[coordinators])
    async def reschedule(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        meeting = await meeting_or_404(request, public_id)
        result = FormResult(await read_form(request))
        day = check_date(result, "day", required_message=i18n.gettext("Enter the new date."), not_before=today())
        at = check_time(result, "time")
        if at is None and "time" not in result.errors:
            result.error("time", i18n.gettext("Enter the time the meeting starts."))
        if not result.ok or day is None or at is None:
            return await self._again(request, meeting, errors=result.errors, values=result.values)
        count = await meetings.reschedule(
            by=request.scope["user"],
            meeting=meeting,
            new_day=day,
            at=at,
            rest=result.values.get("scope") == "rest",
            now=utcnow(),
        )
        flash(request, "success", i18n.ngettext("%(num)s meeting moved.", "%(num)s meetings moved.", count))
        return self._back(request, meeting)

    @post("/meetings/{public_id:uuid}/cancel", name="circles:meeting_cancel", guards=[coordinators])
    async def cancel(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        meeting = await meeting_or_404(request, public_id)
        values = await read_form(request)
        if meeting["cancelled_at"] is not None:
            return await self._again(request, meeting, form_error=i18n.gettext("This meeting is already cancelled."))
        count = await meetings.cancel(
            by=request.scope["user"],
            meeting=meeting,
            reason=" ".join(values.get("reason", "").split()),
            rest=values.get("scope") == "rest",
            now=utcnow(),
        )
        flash(request, "success", i18n.ngettext("%(num)s meeting cancelled.", "%(num)s meetings cancelled.", count))
        return self._back(request, meeting)

    @post("/meetings/{public_id:uuid}/attendance", name="circles:meeting_attendance", guards=[coordinators])
    async def attendance(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        meeting = await meeting_or_404(request, public_id)
        values = await read_form(request)
        seated = await meetings.seated_volunteers(meeting["circle"])
        labels = attendance_labels()
        statuses: dict[int | None, str] = {}
        errors = {}
        for key, volunteer_id in [
            ("core_member", None),
            *((f"volunteer-{s['volunteer']}", s["volunteer"]) for s in seated),
        ]:
            value = values.get(key, "")
            if value in labels:
                statuses[volunteer_id] = value
            elif value:
                errors[key] = i18n.gettext("Choose attended, sent apologies or absent.")
        if errors:
            return await self._again(request, meeting, errors=errors, values=values)
        await meetings.record_attendance(by=request.scope["user"], meeting=meeting, statuses=statuses, now=utcnow())
        flash(request, "success", i18n.gettext("Attendance saved."))
        return self._back(request, meeting, "#attendance")

    @post("/meetings/{public_id:uuid}/minute-taker", name="circles:meeting_minute_taker", guards=[coordinators])
    async def minute_taker(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        meeting = await meeting_or_404(request, public_id)
        values = await read_form(request)
        seated = {str(s["volunteer"]): s["volunteer"] for s in await meetings.seated_volunteers(meeting["circle"])}
        choice = values.get("minute_taker", "")
        if choice and choice not in seated:
            return await self._again(
                request, meeting, errors={"minute_taker": i18n.gettext("Choose a volunteer of this circle.")}
            )
        await meetings.set_minute_taker(
            by=request.scope["user"], meeting=meeting, volunteer_id=seated.get(choice), now=utcnow()
        )
        flash(request, "success", i18n.gettext("Minute-taker saved."))
        return self._back(request, meeting, "#minutes")

    @post("/meetings/{public_id:uuid}/minutes", name="circles:meeting_minutes", guards=[meeting_readers])
    async def minutes(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        meeting = await meeting_or_404(request, public_id)
        user = request.scope["user"]
        values = await read_form(request)
        text = values.get("minutes", "").strip()
        action = values.get("action", "")
        now = utcnow()
        if user.role == Role.coordinator.value:
            if action == "approve" and not text:
                return await self._again(
                    request,
                    meeting,
                    errors={"minutes": i18n.gettext("Minutes cannot be approved empty.")},
                    values=values,
                )
            await meetings.review_minutes(by=user, meeting=meeting, text=text, approve=action == "approve", now=now)
            flash(
                request,
                "success",
                i18n.gettext("Minutes approved.") if action == "approve" else i18n.gettext("Minutes saved."),
            )
            return self._back(request, meeting, "#minutes")
        if user.role != Role.volunteer.value or await meetings.volunteer_id_of(user) != meeting["minute_taker"]:
            await found_or_deny(request, None, "meeting_minutes", public_id)
        if action == "submit" and not text:
            return await self._again(
                request,
                meeting,
                errors={"minutes": i18n.gettext("Write the minutes before sending them.")},
                values=values,
            )
        try:
            await meetings.save_minutes(by=user, meeting=meeting, text=text, submit=action == "submit", now=now)
        except meetings.MeetingRuleBroken as broken:
            return await self._again(request, meeting, form_error=broken.message)
        flash(
            request,
            "success",
            i18n.gettext("Minutes sent to your coordinator. Thank you.")
            if action == "submit"
            else i18n.gettext("Draft saved."),
        )
        return self._back(request, meeting, "#minutes")

    @post("/meetings/{public_id:uuid}/share", name="circles:meeting_share", guards=[coordinators])
    async def share(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        meeting = await meeting_or_404(request, public_id)
        try:
            await meetings.share_minutes(by=request.scope["user"], meeting=meeting, now=utcnow())
        except meetings.MeetingRuleBroken as broken:
            return await self._again(request, meeting, form_error=broken.message)
        flash(request, "success", i18n.gettext("The minutes are shared with the outer circle."))
        return self._back(request, meeting, "#minutes")
