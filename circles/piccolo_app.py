import os

from piccolo.conf.apps import AppConfig

APP_CONFIG = AppConfig(
    app_name="circles",
    migrations_folder_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "piccolo_migrations"),
    table_classes=[],
    migration_dependencies=["cosa.piccolo_app"],
    commands=[],
)
