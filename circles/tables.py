"""Core members, their NRM record, needs and known risk connections; circles and their members."""

from __future__ import annotations

import enum

from piccolo.columns import (
    JSON,
    UUID,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Time,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from cosa.tables import Region, User
from volunteers.tables import Volunteer


class Cohort(enum.StrEnum):
    survivor = "survivor"
    convicted = "convicted"  # convicted of an MSHT offence
    both = "both"


class NrmDecision(enum.StrEnum):
    none = ""  # not referred, or no decision yet
    positive = "positive"
    negative = "negative"


class CoreMember(Table, tablename="circles_core_member"):
    id = Serial(primary_key=True)
    public_id = UUID(unique=True, index=True)
    region = ForeignKey(references=Region, index=True, on_delete=OnDelete.restrict)
    full_name = Varchar(length=120)
    known_as = Varchar(length=60, default="")
    cohort = Varchar(length=10, choices=Cohort)
    gender = Varchar(length=20, default="")
    pronouns = Varchar(length=30, default="")
    volunteer_gender_preference = Varchar(length=20, default="")  # "" means no preference
    languages = JSON(default="[]")  # ISO 639-1 codes
    release_on = Date(null=True, default=None)
    licence_ends_on = Date(null=True, default=None)
    order_conditions = Text(default="")  # e.g. STPO prohibitions (need to know)
    order_ends_on = Date(null=True, default=None)
    offence_details = Text(default="")  # need to know: coordinators and the probation officer only
    address_district = Varchar(length=8, default="")  # postcode district of the current address
    probation_officer = ForeignKey(references=User, null=True, index=True, on_delete=OnDelete.set_null)
    referred_on = Date()
    referred_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    # The NRM record (need to know).
    nrm_referred_on = Date(null=True, default=None)
    nrm_reasonable_grounds = Varchar(length=10, choices=NrmDecision, default="")
    nrm_reasonable_grounds_on = Date(null=True, default=None)
    nrm_conclusive_grounds = Varchar(length=10, choices=NrmDecision, default="")
    nrm_conclusive_grounds_on = Date(null=True, default=None)
    public_order_disqualification = Boolean(default=False)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    # When retention removed the personal data (circles/retention.py); the row stays so figures still add up.
    anonymised_at = Timestamptz(null=True, default=None)


class NeedArea(enum.StrEnum):
    accommodation = "accommodation"
    employment = "employment"  # employment, education and training
    finances = "finances"  # finances and debt
    mental_health = "mental_health"
    substance_use = "substance_use"
    immigration = "immigration"
    family = "family"
    isolation = "isolation"


class NeedStatus(enum.StrEnum):
    met = "met"
    partly_met = "partly_met"
    unmet = "unmet"
    not_applicable = "not_applicable"


class NeedChange(Table, tablename="circles_need_change"):
    """Every change of a need's status, with its date: the current status is the latest row."""

    id = Serial(primary_key=True)
    core_member = ForeignKey(references=CoreMember, index=True, on_delete=OnDelete.cascade)
    area = Varchar(length=20, choices=NeedArea)
    status = Varchar(length=20, choices=NeedStatus)
    changed_on = Date()
    changed_at = Timestamptz()
    changed_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)


class ConnectionKind(enum.StrEnum):
    person = "person"
    place = "place"
    community = "community"


class RiskConnection(Table, tablename="circles_risk_connection"):
    """A person, place or community linked to the core member's exploitation or offending."""

    id = Serial(primary_key=True)
    public_id = UUID(unique=True)
    core_member = ForeignKey(references=CoreMember, index=True, on_delete=OnDelete.cascade)
    kind = Varchar(length=10, choices=ConnectionKind)
    description = Text()
    districts = JSON(default="[]")  # postcode districts, e.g. ["NG7", "NG8"]
    cuckooing = Boolean(default=False)  # an address known for cuckooing
    created_at = Timestamptz()
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)


class CaseNote(Table, tablename="circles_case_note"):
    """A coordinator's note on a core member; volunteers see it only when it is shared with the circle."""

    id = Serial(primary_key=True)
    public_id = UUID(unique=True)
    core_member = ForeignKey(references=CoreMember, index=True, on_delete=OnDelete.cascade)
    body = Text()
    shared_with_circle = Boolean(default=False)
    created_at = Timestamptz()
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)


class CircleState(enum.StrEnum):
    referred = "referred"
    accepted = "accepted"
    forming = "forming"
    active = "active"
    tapering = "tapering"
    ending = "ending"
    closed = "closed"
    paused = "paused"
    terminated = "terminated"


class Circle(Table, tablename="circles_circle"):
    id = Serial(primary_key=True)
    public_id = UUID(unique=True, index=True)
    code_name = Varchar(length=40)  # what emails and calendars show instead of the core member's name
    core_member = ForeignKey(references=CoreMember, index=True, on_delete=OnDelete.restrict)
    region = ForeignKey(references=Region, index=True, on_delete=OnDelete.restrict)
    coordinator = ForeignKey(references=User, null=True, index=True, on_delete=OnDelete.set_null)
    state = Varchar(length=12, choices=CircleState, default=CircleState.referred.value, index=True)
    state_before_pause = Varchar(length=12, default="")
    state_changed_at = Timestamptz()
    meeting_weekday = Integer(null=True, default=None)  # 0 Monday .. 6 Sunday
    meeting_time = Time(null=True, default=None)
    venue = Varchar(length=120, default="")
    venue_district = Varchar(length=8, default="")
    check_in_every_days = Integer(default=7)
    covenant_text = Text(default="")
    covenant_version = Integer(default=0)
    covenant_signed_on = Date(null=True, default=None)
    termination_reason = Text(default="")
    created_at = Timestamptz()
    anonymised_at = Timestamptz(null=True, default=None)  # retention cleared its free text (circles/retention.py)


class CircleTransition(Table, tablename="circles_transition"):
    id = Serial(primary_key=True)
    circle = ForeignKey(references=Circle, index=True, on_delete=OnDelete.cascade)
    from_state = Varchar(length=12, default="")
    to_state = Varchar(length=12)
    reason = Text(default="")
    at = Timestamptz()
    by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)


class MembershipStatus(enum.StrEnum):
    invited = "invited"
    accepted = "accepted"
    declined = "declined"
    withdrawn = "withdrawn"  # the coordinator withdrew the invitation
    left = "left"


class CircleMembership(Table, tablename="circles_membership"):
    id = Serial(primary_key=True)
    public_id = UUID(unique=True)
    circle = ForeignKey(references=Circle, index=True, on_delete=OnDelete.cascade)
    volunteer = ForeignKey(references=Volunteer, index=True, on_delete=OnDelete.restrict)
    status = Varchar(length=10, choices=MembershipStatus, default=MembershipStatus.invited.value, index=True)
    invited_at = Timestamptz()
    invited_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    responded_at = Timestamptz(null=True, default=None)
    left_at = Timestamptz(null=True, default=None)


class OuterCircleMember(Table, tablename="circles_outer_member"):
    """A professional in the outer circle (police, housing, health, ...) other than the probation officer."""

    id = Serial(primary_key=True)
    public_id = UUID(unique=True)
    circle = ForeignKey(references=Circle, index=True, on_delete=OnDelete.cascade)
    name = Varchar(length=120)
    organisation = Varchar(length=120, default="")
    role = Varchar(length=120, default="")
    email = Varchar(length=254, default="")
    phone = Varchar(length=40, default="")


class Frequency(enum.StrEnum):
    once = "once"
    weekly = "weekly"
    fortnightly = "fortnightly"
    monthly = "monthly"


class MeetingSeries(Table, tablename="circles_series"):
    """A recurring meeting: wall-clock time in Europe/London, so it stays at 18:30 across clock changes.

    (Not "circles_meeting_series": that is the name of the index on circles_meeting.series.)"""

    id = Serial(primary_key=True)
    public_id = UUID(unique=True)
    circle = ForeignKey(references=Circle, index=True, on_delete=OnDelete.cascade)
    frequency = Varchar(length=12, choices=Frequency)
    local_time = Time()
    duration_minutes = Integer(default=90)
    first_on = Date()
    until_on = Date(null=True, default=None)
    venue = Varchar(length=120, default="")
    created_at = Timestamptz()
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)


class MinutesStatus(enum.StrEnum):
    none = ""
    draft = "draft"
    submitted = "submitted"
    approved = "approved"


class Meeting(Table, tablename="circles_meeting"):
    id = Serial(primary_key=True)
    public_id = UUID(unique=True, index=True)
    circle = ForeignKey(references=Circle, index=True, on_delete=OnDelete.cascade)
    series = ForeignKey(references=MeetingSeries, null=True, index=True, on_delete=OnDelete.set_null)
    starts_at = Timestamptz(index=True)
    ends_at = Timestamptz()
    venue = Varchar(length=120, default="")
    cancelled_at = Timestamptz(null=True, default=None)
    cancelled_reason = Varchar(length=200, default="")
    minute_taker = ForeignKey(references=Volunteer, null=True, index=True, on_delete=OnDelete.set_null)
    minutes = Text(default="")
    minutes_status = Varchar(length=10, choices=MinutesStatus, default="")
    minutes_submitted_at = Timestamptz(null=True, default=None)
    minutes_approved_at = Timestamptz(null=True, default=None)
    minutes_approved_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    minutes_shared_at = Timestamptz(null=True, default=None)  # shared with the outer circle
    created_at = Timestamptz()


class AttendanceStatus(enum.StrEnum):
    attended = "attended"
    apologies = "apologies"
    absent = "absent"


class Attendance(Table, tablename="circles_attendance"):
    """Who came to a meeting; a row without a volunteer is the core member's."""

    id = Serial(primary_key=True)
    meeting = ForeignKey(references=Meeting, index=True, on_delete=OnDelete.cascade)
    volunteer = ForeignKey(references=Volunteer, null=True, on_delete=OnDelete.cascade)
    status = Varchar(length=10, choices=AttendanceStatus)


class IndicatorGroup(enum.StrEnum):
    exploitation = "exploitation"  # risk of being exploited again (survivors, and both)
    accountability = "accountability"  # convicted of an MSHT offence, and both
    wellbeing = "wellbeing"  # everyone


class Indicator(Table, tablename="circles_indicator"):
    """A risk indicator volunteers can tick on a check-in. Built-in ones are translated; coordinators can
    switch any off, choose which raise a concern, and add their own."""

    id = Serial(primary_key=True)
    code = Varchar(length=60, unique=True)
    group = Varchar(length=16, choices=IndicatorGroup)
    label = Varchar(length=200, default="")  # only for indicators added by a coordinator
    explanation = Varchar(length=400, default="")
    built_in = Boolean(default=False)
    active = Boolean(default=True)
    raises_concern = Boolean(default=False)
    position = Integer(default=0)


class ContactMethod(enum.StrEnum):
    in_person = "in_person"
    phone = "phone"
    message = "message"
    other = "other"


class CheckIn(Table, tablename="circles_check_in"):
    id = Serial(primary_key=True)
    public_id = UUID(unique=True, index=True)
    circle = ForeignKey(references=Circle, index=True, on_delete=OnDelete.cascade)
    volunteer = ForeignKey(references=Volunteer, null=True, index=True, on_delete=OnDelete.set_null)
    # One per form the app served: resending after a lost connection finds the first instead of adding one.
    idempotency_key = Varchar(length=64, unique=True)
    happened_at = Timestamptz(index=True)
    method = Varchar(length=12, choices=ContactMethod)
    wellbeing = Integer(default=0)  # 1 (struggling) .. 5 (doing well); 0 not recorded
    indicators = JSON(default="[]")  # indicator codes ticked
    notes = Text(default="")
    created_at = Timestamptz()


class CalendarFeed(Table, tablename="circles_calendar_feed"):
    """A user's private iCalendar address; only a hash of its secret is kept, and it can be revoked."""

    id = Serial(primary_key=True)
    user = ForeignKey(references=User, index=True, on_delete=OnDelete.cascade)
    token_hash = Varchar(length=64, unique=True, index=True)
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)


class Severity(enum.StrEnum):
    info = "info"  # for the coordinator
    concern = "concern"  # the coordinator triages and may escalate
    urgent = "urgent"  # goes to probation at once


class ConcernState(enum.StrEnum):
    raised = "raised"
    triaged = "triaged"  # the coordinator looked and decided not to escalate (with why)
    escalated = "escalated"
    acknowledged = "acknowledged"
    actioned = "actioned"
    closed = "closed"


class Concern(Table, tablename="circles_concern"):
    id = Serial(primary_key=True)
    public_id = UUID(unique=True, index=True)
    circle = ForeignKey(references=Circle, index=True, on_delete=OnDelete.cascade)
    raised_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    check_in = ForeignKey(references=CheckIn, null=True, on_delete=OnDelete.set_null)  # raised automatically from it
    severity = Varchar(length=10, choices=Severity)
    description = Text(default="")
    indicators = JSON(default="[]")
    seen_at = Timestamptz()
    state = Varchar(length=12, choices=ConcernState, default=ConcernState.raised.value, index=True)
    state_changed_at = Timestamptz()
    created_at = Timestamptz(index=True)


class ConcernEvent(Table, tablename="circles_concern_event"):
    """Every step of a concern, with who and when: its timeline."""

    id = Serial(primary_key=True)
    concern = ForeignKey(references=Concern, index=True, on_delete=OnDelete.cascade)
    kind = Varchar(length=30)  # raised, added_to, triaged, escalated, notified, acknowledged, actioned, closed
    to_state = Varchar(length=12, default="")
    note = Text(default="")  # coordinator's or officer's words; never shown to volunteers for officer steps
    detail = JSON(default="{}")
    at = Timestamptz()
    by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)


class Escalation(Table, tablename="circles_escalation"):
    """A concern sent to the core member's probation officer; re-notified up the chain until acknowledged."""

    id = Serial(primary_key=True)
    public_id = UUID(unique=True, index=True)
    concern = ForeignKey(references=Concern, unique=True, on_delete=OnDelete.cascade)
    officer = ForeignKey(references=User, null=True, index=True, on_delete=OnDelete.set_null)
    severity = Varchar(length=10, choices=Severity)
    level = Integer(default=0)  # 0 the officer, 1 also the duty inbox, 2 also the programme lead
    created_at = Timestamptz()
    next_notice_at = Timestamptz(null=True, default=None, index=True)
    acknowledged_at = Timestamptz(null=True, default=None)
    acknowledged_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    action = Varchar(length=30, default="")
    action_notes = Text(default="")
    actioned_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)


class EscalationPolicy(Table, tablename="circles_escalation_policy"):
    """How long probation has to acknowledge, per severity, and who is told next. Set by an administrator."""

    id = Serial(primary_key=True)
    severity = Varchar(length=10, choices=Severity, unique=True)
    acknowledge_within_minutes = Integer()
    lead_after_minutes = Integer(null=True, default=None)  # after the duty inbox; None: never the lead
    working_hours_only = Boolean(default=False)
    action_within_minutes = Integer(default=1440)  # acknowledged but no action recorded: re-notify after this
    duty_inbox = Varchar(length=254, default="")
    programme_lead = Varchar(length=254, default="")
