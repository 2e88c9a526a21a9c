"""The audit trail: who did what to which object, and when.

Call `record()` inside the same transaction as the change it describes (Piccolo picks up the open
transaction), so the change and its audit row commit or roll back together. Details hold identifiers and
codes only: never names, free text, passwords or tokens.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cosa.clock import utcnow
from cosa.db import is_postgres, write_transaction
from cosa.tables import AuditEvent

log = logging.getLogger("cosa.audit")


class Action:
    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"
    LOGIN_PASSWORD_ACCEPTED = "auth.password_accepted"
    SECOND_FACTOR_ENABLED = "auth.second_factor_enabled"
    SECOND_FACTOR_RESET = "auth.second_factor_reset"
    SECOND_FACTOR_TURNED_OFF = "auth.second_factor_turned_off"
    RECOVERY_CODE_USED = "auth.recovery_code_used"
    RECOVERY_CODES_REPLACED = "auth.recovery_codes_replaced"
    LOGIN_THROTTLED = "auth.login_throttled"
    LOGOUT = "auth.logout"
    SIGN_OUT_EVERYWHERE = "auth.sign_out_everywhere"
    SESSION_EXPIRED = "auth.session_expired"
    PASSWORD_SET = "auth.password_set"
    PASSWORD_CHANGED = "auth.password_changed"
    ACCESS_REFUSED = "access.refused"
    USER_INVITED = "user.invited"
    USER_INVITATION_RESENT = "user.invitation_resent"
    USER_DEACTIVATED = "user.deactivated"
    USER_REACTIVATED = "user.reactivated"
    USER_ROLE_CHANGED = "user.role_changed"
    USER_LANGUAGE_CHANGED = "user.language_changed"
    REGION_CREATED = "region.created"
    CORE_MEMBER_REFERRED = "core_member.referred"
    CORE_MEMBER_UPDATED = "core_member.updated"
    CORE_MEMBER_VIEWED = "core_member.viewed"
    NRM_UPDATED = "core_member.nrm_updated"
    NEED_CHANGED = "core_member.need_changed"
    RISK_CONNECTION_ADDED = "core_member.risk_connection_added"
    RISK_CONNECTION_REMOVED = "core_member.risk_connection_removed"
    NOTE_ADDED = "core_member.note_added"
    NOTE_SHARING_CHANGED = "core_member.note_sharing_changed"
    CIRCLE_OPENED = "circle.opened"
    CIRCLE_UPDATED = "circle.updated"
    CIRCLE_TRANSITION = "circle.transition"
    COVENANT_SIGNED = "circle.covenant_signed"
    OUTER_MEMBER_ADDED = "circle.outer_member_added"
    OUTER_MEMBER_REMOVED = "circle.outer_member_removed"
    VOLUNTEER_INVITED_TO_CIRCLE = "circle.volunteer_invited"
    INVITATION_WITHDRAWN = "circle.invitation_withdrawn"
    INVITATION_ACCEPTED = "circle.invitation_accepted"
    INVITATION_DECLINED = "circle.invitation_declined"
    VOLUNTEER_LEFT_CIRCLE = "circle.volunteer_left"
    REGION_RENAMED = "region.renamed"
    AUDIT_VIEWED = "audit.viewed"
    CORE_MEMBER_EXPORTED = "core_member.exported"
    VOLUNTEER_EXPORTED = "volunteer.exported"
    RETENTION_CHANGED = "retention.changed"
    RETENTION_RUN = "retention.run"


async def record(
    action: str,
    *,
    actor: Any = None,
    object_type: str = "",
    object_id: object = "",
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Write one audit row, chained to the one before. `actor` is a User row (or None when anonymous).

    Inside the caller's write transaction when there is one. Rows are appended one at a time: on SQLite the
    write transaction already holds the database's write lock; on PostgreSQL a transaction-scoped advisory
    lock orders concurrent writers, so two rows never claim the same place in the chain.
    """
    occurred_at = now or utcnow()
    if occurred_at.tzinfo is None:  # a naive time would be hashed as local time but stored as UTC
        occurred_at = occurred_at.replace(tzinfo=UTC)
    row = AuditEvent(
        occurred_at=occurred_at,
        actor=actor.id if actor is not None else None,
        actor_role=actor.role if actor is not None else "",
        action=action,
        object_type=object_type,
        # Refusals record what a visitor put in the address: keep it within the column and free of NUL,
        # which PostgreSQL refuses, so a hostile address is refused with a 404 and not a server error.
        object_id=str(object_id).replace("\x00", "")[:64],
        # Stored as it will read back: the chain's hash is computed over JSON, and an identifier that is not
        # plain JSON (a UUID, a date) would otherwise be hashed one way and stored another, or fail to hash.
        detail=json.loads(json.dumps(detail or {}, default=str)),
    )
    async with write_transaction():
        if is_postgres():
            await AuditEvent.raw("SELECT pg_advisory_xact_lock({})", CHAIN_LOCK)
        last = (
            await AuditEvent.select(AuditEvent.seq, AuditEvent.row_hash)
            .where(AuditEvent.seq.is_not_null())  # PostgreSQL sorts NULLs first when descending
            .order_by(AuditEvent.seq, ascending=False)
            .first()
        )
        row.seq = (last["seq"] or 0) + 1 if last else 1
        row.prev_hash = last["row_hash"] if last else GENESIS
        row.row_hash = chain_digest(row.prev_hash, _fields(row))
        await AuditEvent.insert(row)
    log.info("audit %s %s", action, object_type)


# --- the hash chain ------------------------------------------------------------------------------------

GENESIS = "0" * 64
CHAIN_LOCK = 4_242_001  # the PostgreSQL advisory lock key that orders audit writers

# On PostgreSQL and SQLite the database itself refuses to change or remove an audit row (the migration
# installs these; tests that empty the database between runs drop and re-create the SQLite ones).
SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS cosa_audit_no_update BEFORE UPDATE ON cosa_audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit rows cannot be changed'); END",
    "CREATE TRIGGER IF NOT EXISTS cosa_audit_no_delete BEFORE DELETE ON cosa_audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit rows cannot be removed'); END",
)
POSTGRES_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION cosa_audit_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'audit rows cannot be changed or removed'; END $$",
    "DROP TRIGGER IF EXISTS cosa_audit_immutable ON cosa_audit_event",
    "CREATE TRIGGER cosa_audit_immutable BEFORE UPDATE OR DELETE ON cosa_audit_event "
    "FOR EACH ROW EXECUTE FUNCTION cosa_audit_immutable()",
)


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _fields(row: Any) -> list[Any]:
    def get(name: str) -> Any:
        return row[name] if isinstance(row, dict) else getattr(row, name)

    detail = get("detail")
    if isinstance(detail, str):
        detail = json.loads(detail or "{}")
    actor = get("actor")
    return [
        get("seq"),
        _timestamp(get("occurred_at")),
        actor if actor is None or isinstance(actor, int) else int(actor),
        get("actor_role") or "",
        get("action"),
        get("object_type") or "",
        get("object_id") or "",
        detail or {},
    ]


def chain_digest(prev_hash: str, fields: list[Any]) -> str:
    """The hash of one row: SHA-256 over the previous row's hash and the row's fields as canonical JSON."""
    payload = json.dumps([prev_hash, *fields], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def row_digest(prev_hash: str, row: dict[str, Any]) -> str:
    return chain_digest(prev_hash, _fields(row))


@dataclass(frozen=True)
class ChainReport:
    rows: int
    broken_seq: int | None = None  # the first row whose place in the chain does not check out
    broken_id: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_seq is None and not self.reason


async def verify_chain(batch: int = 5000) -> ChainReport:
    """Walk the whole chain in order and name the first row that does not check out."""
    expected_prev = GENESIS
    expected_seq = 1
    checked = 0
    after = 0
    while True:
        rows = (
            await AuditEvent.select()
            .where(AuditEvent.seq > after)
            .order_by(AuditEvent.seq)
            .limit(batch)
            .output(load_json=True)
        )
        for row in rows:
            problem = ""
            if row["seq"] != expected_seq:
                problem = f"row {expected_seq} is missing (the next row is {row['seq']})"
            elif row["prev_hash"] != expected_prev:
                problem = "its link to the row before does not match"
            elif row["row_hash"] != row_digest(row["prev_hash"], row):
                problem = "its content does not match its hash"
            if problem:
                return ChainReport(checked, broken_seq=row["seq"], broken_id=row["id"], reason=problem)
            checked += 1
            expected_prev = row["row_hash"]
            expected_seq += 1
        if len(rows) < batch:
            break
        after = rows[-1]["seq"]
    unchained = await AuditEvent.count().where(AuditEvent.seq.is_null())
    if unchained:
        return ChainReport(checked, reason=f"{unchained} rows are outside the chain")
    return ChainReport(checked)
