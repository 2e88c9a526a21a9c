import os

from piccolo.conf.apps import AppConfig

from volunteers.tables import SupervisionSession, Volunteer, VolunteerStatusChange

APP_CONFIG = AppConfig(
    app_name="volunteers",
    migrations_folder_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "piccolo_migrations"),
    table_classes=[Volunteer, VolunteerStatusChange, SupervisionSession],
    migration_dependencies=["cosa.piccolo_app"],
    commands=[],
)
