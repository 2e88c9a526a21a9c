"""An index for the dashboard's "last contact" per circle: the newest check-in of each circle is read from
the index instead of every check-in the region's circles ever had."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T15:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Index check-ins by circle and time"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="circles", description=DESCRIPTION)

    async def create_index():
        from piccolo.engine.finder import engine_finder

        await engine_finder().run_ddl(
            "CREATE INDEX IF NOT EXISTS circles_check_in_circle_happened_at ON circles_check_in (circle, happened_at)"
        )

    manager.add_raw(create_index)
    return manager
