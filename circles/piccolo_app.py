import os

from piccolo.conf.apps import AppConfig

from circles.tables import (
    Attendance,
    CalendarFeed,
    CaseNote,
    CheckIn,
    Circle,
    CircleMembership,
    CircleTransition,
    Concern,
    ConcernEvent,
    CoreMember,
    Escalation,
    EscalationPolicy,
    Indicator,
    Meeting,
    MeetingSeries,
    NeedChange,
    OuterCircleMember,
    RiskConnection,
)

APP_CONFIG = AppConfig(
    app_name="circles",
    migrations_folder_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "piccolo_migrations"),
    table_classes=[
        CoreMember,
        NeedChange,
        RiskConnection,
        CaseNote,
        Circle,
        CircleTransition,
        CircleMembership,
        OuterCircleMember,
        MeetingSeries,
        Meeting,
        Attendance,
        Indicator,
        CheckIn,
        CalendarFeed,
        Concern,
        ConcernEvent,
        Escalation,
        EscalationPolicy,
    ],
    migration_dependencies=["cosa.piccolo_app", "volunteers.piccolo_app"],
    commands=[],
)
