"""Every route of the circles feature, for cosa/app.py to register."""

from __future__ import annotations

from typing import Any

from circles.calendar import CalendarController
from circles.check_ins import CheckInController
from circles.circle_pages import CircleController
from circles.concern_pages import ConcernController
from circles.core_member_pages import CoreMemberController
from circles.escalation_pages import EscalationController
from circles.home import home
from circles.indicators import IndicatorController
from circles.matching_pages import MatchingController
from circles.meeting_pages import MeetingController
from circles.policy_pages import EscalationPolicyController
from circles.retention import RetentionController
from circles.subject_access import CoreMemberExportController

ROUTES: list[Any] = [
    home,
    CoreMemberController,
    CircleController,
    MatchingController,
    MeetingController,
    CalendarController,
    IndicatorController,
    CheckInController,
    ConcernController,
    EscalationController,
    EscalationPolicyController,
    CoreMemberExportController,
    RetentionController,
]
