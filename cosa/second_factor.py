"""The second factor: time-based one-time codes (TOTP, RFC 6238) and one-time recovery codes.

Staff (administrators, coordinators, probation officers) must use it; volunteers may opt in. The shared
secret is stored encrypted (AES-GCM, key derived from SECRET_KEY), so a copy of the database alone cannot
produce codes; changing SECRET_KEY therefore means every user enrols again. A code works once: the
30-second step it belongs to is recorded, and only a later step is accepted afterwards. Recovery codes
are shown once and stored as keyed hashes; each works once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any

import pyotp
import segno
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cosa.settings import Settings
from cosa.tables import STAFF_ROLES, RecoveryCode, Role, User

ISSUER = "CoSA Circles"
STEP_SECONDS = 30
VALID_WINDOW = 1  # one step either side, for phone clocks that drift
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def required_for(user: Any) -> bool:
    """Staff always; volunteers once they have turned it on."""
    return Role(user.role) in STAFF_ROLES or user.totp_enabled_at is not None


def is_enrolled(user: Any) -> bool:
    return bool(user.totp_enabled_at is not None and user.totp_secret)


# --- the secret, encrypted at rest --------------------------------------------------------------------


def _key(settings: Settings) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=b"cosa totp secret").derive(settings.secret_key.encode())


def new_secret() -> str:
    return pyotp.random_base32()


def seal(settings: Settings, secret: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_key(settings)).encrypt(nonce, secret.encode(), b"totp")
    return "v1:" + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(settings: Settings, stored: str) -> str | None:
    """The secret, or None when there is none or it cannot be read (e.g. SECRET_KEY changed)."""
    if not stored.startswith("v1:"):
        return None
    try:
        raw = base64.urlsafe_b64decode(stored[3:])
        return AESGCM(_key(settings)).decrypt(raw[:12], raw[12:], b"totp").decode()
    except Exception:  # noqa: BLE001 - any failure means the secret is unusable
        return None


# --- codes -------------------------------------------------------------------------------------------


def normalise_code(value: str) -> str:
    return "".join(ch for ch in value if not ch.isspace() and ch != "-").lower()


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The 30-second step whose code this is (within the allowed drift), or None."""
    code = normalise_code(code)
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


async def use_step(user_id: int, step: int) -> bool:
    """Record that this step's code has been used; False when it (or a later one) already was. One
    conditional UPDATE, so two requests racing with the same code cannot both succeed."""
    rows = (
        await User.update({User.totp_last_step: step})
        .where(User.id == user_id, (User.totp_last_step.is_null()) | (User.totp_last_step < step))
        .returning(User.id)
    )
    return bool(rows)


def provisioning_uri(secret: str, account_name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=ISSUER)


def qr_svg(uri: str, title: str) -> str:
    """The enrolment QR code as inline SVG, drawn here: the secret never leaves the server for a QR service."""
    return segno.make(uri, error="m").svg_inline(scale=5, border=2, title=title, dark="#0b0c0c", light="#ffffff")


def group_key(secret: str) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


# --- recovery codes ----------------------------------------------------------------------------------


def _code_hash(settings: Settings, code: str) -> str:
    return hmac.new(
        settings.secret_key.encode(), b"recovery:" + normalise_code(code).encode(), hashlib.sha256
    ).hexdigest()


def new_recovery_codes() -> list[str]:
    def one() -> str:
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(12))
        return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"

    return [one() for _ in range(RECOVERY_CODE_COUNT)]


async def replace_recovery_codes(settings: Settings, user_id: int, now: datetime) -> list[str]:
    """Issue a fresh set (the old ones stop working); call inside a write transaction."""
    codes = new_recovery_codes()
    await RecoveryCode.delete().where(RecoveryCode.user == user_id)
    await RecoveryCode.insert(
        *[RecoveryCode(user=user_id, code_hash=_code_hash(settings, code), created_at=now) for code in codes]
    )
    return codes


def looks_like_recovery_code(value: str) -> bool:
    code = normalise_code(value)
    return len(code) == 12 and all(ch in _RECOVERY_ALPHABET for ch in code)


async def use_recovery_code(settings: Settings, user_id: int, value: str, now: datetime) -> bool:
    if not looks_like_recovery_code(value):
        return False
    rows = (
        await RecoveryCode.update({RecoveryCode.used_at: now})
        .where(
            RecoveryCode.user == user_id,
            RecoveryCode.code_hash == _code_hash(settings, value),
            RecoveryCode.used_at.is_null(),
        )
        .returning(RecoveryCode.id)
    )
    return bool(rows)


async def recovery_codes_left(user_id: int) -> int:
    return await RecoveryCode.count().where(RecoveryCode.user == user_id, RecoveryCode.used_at.is_null())


async def clear(user_id: int) -> None:
    """Remove the second factor (an administrator's reset, or a volunteer turning it off)."""
    await User.update({User.totp_secret: "", User.totp_enabled_at: None, User.totp_last_step: None}).where(
        User.id == user_id
    )
    await RecoveryCode.delete().where(RecoveryCode.user == user_id)
