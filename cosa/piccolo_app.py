import os

from piccolo.conf.apps import AppConfig

from cosa.tables import (
    AuditEvent,
    Invitation,
    LoginThrottle,
    OnceKey,
    OutboxAttempt,
    OutboxMessage,
    RecoveryCode,
    Region,
    RetentionSetting,
    User,
    UserSession,
)

APP_CONFIG = AppConfig(
    app_name="cosa",
    migrations_folder_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "piccolo_migrations"),
    table_classes=[
        Region,
        User,
        UserSession,
        LoginThrottle,
        Invitation,
        AuditEvent,
        OutboxMessage,
        OutboxAttempt,
        OnceKey,
        RecoveryCode,
        RetentionSetting,
    ],
    migration_dependencies=[],
    commands=[],
)
