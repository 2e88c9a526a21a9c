"""Chain the audit rows written before the hash chain existed, then make the table append-only."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T14:58:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "Chain existing audit rows; refuse UPDATE and DELETE on the audit table"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="cosa", description=DESCRIPTION)

    async def chain_existing_rows_and_protect_them():
        # Rows written before the chain existed are chained in their original order, then the database is
        # told to refuse any change or removal of an audit row from now on.
        from cosa.audit import GENESIS, POSTGRES_TRIGGERS, SQLITE_TRIGGERS, row_digest
        from cosa.db import is_postgres

        AuditEvent = await manager.get_table_from_snapshot("AuditEvent", "cosa")  # noqa: N806
        rows = await AuditEvent.select().order_by(AuditEvent.id).output(load_json=True)
        prev = GENESIS
        for seq, row in enumerate(rows, start=1):
            row["seq"] = seq
            digest = row_digest(prev, row)
            await AuditEvent.update(
                {AuditEvent.seq: seq, AuditEvent.prev_hash: prev, AuditEvent.row_hash: digest}
            ).where(AuditEvent.id == row["id"])
            prev = digest
        await AuditEvent.raw("CREATE UNIQUE INDEX cosa_audit_event_seq_unique ON cosa_audit_event (seq)")
        for statement in POSTGRES_TRIGGERS if is_postgres() else SQLITE_TRIGGERS:
            await AuditEvent.raw(statement)

    manager.add_raw(chain_existing_rows_and_protect_them)

    return manager
