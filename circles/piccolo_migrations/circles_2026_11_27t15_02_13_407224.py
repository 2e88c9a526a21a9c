from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-27T15:02:13:407224"
VERSION = "1.38.0"
DESCRIPTION = "Retention: when a core member and a circle were anonymised"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="circles", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="CoreMember",
        tablename="circles_core_member",
        column_name="anonymised_at",
        db_column_name="anonymised_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Circle",
        tablename="circles_circle",
        column_name="anonymised_at",
        db_column_name="anonymised_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
