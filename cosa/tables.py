"""The shell's own tables: accounts, sessions, login throttling, invitations, audit, outbox."""

from __future__ import annotations

import enum

from piccolo.columns import (
    JSONB,
    UUID,
    BigInt,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class Role(enum.StrEnum):
    admin = "admin"
    coordinator = "coordinator"
    volunteer = "volunteer"
    probation = "probation"


STAFF_ROLES = frozenset({Role.admin, Role.coordinator, Role.probation})


class Region(Table, tablename="cosa_region"):
    """A programme region. Coordinators see only the circles, core members and volunteers of theirs."""

    id = Serial(primary_key=True)
    public_id = UUID(unique=True, index=True)
    name = Varchar(length=80, unique=True)


class User(Table, tablename="cosa_user"):
    id = Serial(primary_key=True)
    public_id = UUID(unique=True, index=True)
    email = Varchar(length=254, unique=True, index=True)
    display_name = Varchar(length=120)
    role = Varchar(length=20, choices=Role)
    password_hash = Varchar(length=255, default="")
    is_active = Boolean(default=True)
    locale = Varchar(length=10, default="")
    region = ForeignKey(references=Region, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz()
    activated_at = Timestamptz(null=True, default=None)
    deactivated_at = Timestamptz(null=True, default=None)
    password_changed_at = Timestamptz(null=True, default=None)
    # Second factor (TOTP): the secret is encrypted with a key derived from SECRET_KEY (cosa/second_factor.py).
    totp_secret = Varchar(length=255, default="")
    totp_enabled_at = Timestamptz(null=True, default=None)
    totp_last_step = BigInt(null=True, default=None)  # the last 30-second step used: a code works once


class UserSession(Table, tablename="cosa_session"):
    """A signed-in session. Only a SHA-256 of the token is stored, so a copy of the table signs nobody in."""

    id = Serial(primary_key=True)
    token_hash = Varchar(length=64, unique=True, index=True)
    user = ForeignKey(references=User, index=True)
    created_at = Timestamptz()
    last_seen_at = Timestamptz()
    expires_at = Timestamptz()
    # True between a correct password and a correct second factor: such a session reaches no data route.
    pending_second_factor = Boolean(default=False)


class RecoveryCode(Table, tablename="cosa_recovery_code"):
    """One-time recovery codes for the second factor, shown once and stored as SHA-256 hashes."""

    id = Serial(primary_key=True)
    user = ForeignKey(references=User, index=True, on_delete=OnDelete.cascade)
    code_hash = Varchar(length=64)
    created_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)


class LoginThrottle(Table, tablename="cosa_login_throttle"):
    """Failed sign-in counters per account and per address (keys are keyed hashes, not the values)."""

    id = Serial(primary_key=True)
    key = Varchar(length=64, unique=True, index=True)
    failures = Integer(default=0)
    first_failure_at = Timestamptz()
    last_failure_at = Timestamptz()
    locked_until = Timestamptz(null=True, default=None)


class Invitation(Table, tablename="cosa_invitation"):
    """A one-time link that lets a user set their password (a first invitation or a reset)."""

    id = Serial(primary_key=True)
    token_hash = Varchar(length=64, unique=True, index=True)
    user = ForeignKey(references=User, index=True)
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)


class AuditEvent(Table, tablename="cosa_audit_event"):
    """Who did what to which object, and when. Never the content: no names, no free text."""

    id = Serial(primary_key=True)
    occurred_at = Timestamptz(index=True)
    actor = ForeignKey(references=User, null=True, index=True, on_delete=OnDelete.restrict)
    actor_role = Varchar(length=20, default="")
    action = Varchar(length=60, index=True)
    object_type = Varchar(length=40, default="")
    object_id = Varchar(length=64, default="", index=True)
    detail = JSONB(default="{}")
    # The hash chain (cosa/audit.py): rows are numbered 1, 2, 3...; each hash covers the row and the hash of
    # the row before, so a changed, removed or inserted row breaks the chain from there on.
    seq = BigInt(null=True, default=None)  # unique: the index is made by a migration (SQLite cannot add it)
    prev_hash = Varchar(length=64, default="")
    row_hash = Varchar(length=64, default="")


class OutboxStatus(enum.StrEnum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    failed = "failed"


class OutboxMessage(Table, tablename="cosa_outbox_message"):
    """An email waiting to be sent, written in the same transaction as the change that caused it."""

    id = Serial(primary_key=True)
    public_id = UUID(unique=True)
    message_id = Varchar(length=255, unique=True)
    recipient = Varchar(length=254)
    subject = Varchar(length=255)
    body_text = Text()
    kind = Varchar(length=40, default="")
    status = Varchar(length=10, choices=OutboxStatus, default=OutboxStatus.queued.value, index=True)
    attempts = Integer(default=0)
    created_at = Timestamptz()
    next_attempt_at = Timestamptz(index=True)
    claimed_until = Timestamptz(null=True, default=None)
    sent_at = Timestamptz(null=True, default=None)
    last_error = Varchar(length=255, default="")


class OutboxAttempt(Table, tablename="cosa_outbox_attempt"):
    """One delivery attempt of an outbox message and how it ended (no content, no address)."""

    id = Serial(primary_key=True)
    message = ForeignKey(references=OutboxMessage, index=True, on_delete=OnDelete.cascade)
    attempted_at = Timestamptz()
    outcome = Varchar(length=10)  # sent, retrying, failed
    error = Varchar(length=255, default="")


class OnceKey(Table, tablename="cosa_once_key"):
    """Work that must happen once, whatever the number of processes: a reminder, an alert. The unique key,
    inserted in the same transaction as the work, makes a second attempt a no-op."""

    id = Serial(primary_key=True)
    key = Varchar(length=200, unique=True)
    created_at = Timestamptz()


class RetentionSetting(Table, tablename="cosa_retention_setting"):
    """How long one kind of personal data is kept (cosa/retention.py names the kinds and their minimums)."""

    id = Serial(primary_key=True)
    name = Varchar(length=60, unique=True)
    days = Integer()
    updated_at = Timestamptz()
    updated_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
