"""Demo data for trying the app locally. Refused in production (see settings)."""

from __future__ import annotations

from datetime import datetime

from cosa import second_factor
from cosa.auth import hash_password
from cosa.clock import utcnow
from cosa.db import write_transaction
from cosa.settings import Settings, SettingsError
from cosa.tables import STAFF_ROLES, Region, Role, User

DEMO_PASSWORD = "circles-demo-password"  # noqa: S105 - demo only, refused in production
# Staff use a second factor. The demo staff share this authenticator key (add it to any authenticator app,
# or run `python -m cosa demo-code`); Tom Price has none yet, to show setting one up. Demo only.
DEMO_TOTP_SECRET = "COSADEMOCOSADEMOCOSADEMOCOSADEMO"  # noqa: S105
DEMO_WITHOUT_SECOND_FACTOR = {"tom.price@example.org"}

REGIONS = ("East Midlands", "Wales", "North West")

# (email, name, role, locale, has password, active, region)
DEMO_USERS = [
    ("admin@example.org", "Ada Admin", "admin", "en_GB", True, True, ""),
    ("coordinator@example.org", "Cara Coordinator", "coordinator", "en_GB", True, True, "East Midlands"),
    ("probation@example.org", "Priya Patel", "probation", "en_GB", True, True, "East Midlands"),
    ("tom.price@example.org", "Tom Price", "probation", "en_GB", True, True, "East Midlands"),
    ("rhys@example.org", "Rhys Morgan", "coordinator", "cy", True, True, "Wales"),
    ("volunteer@example.org", "Val Volunteer", "volunteer", "en_GB", True, True, "East Midlands"),
    ("cerys@example.org", "Cerys Jones", "volunteer", "cy", True, True, "Wales"),
    ("sam@example.org", "Sam Okafor", "volunteer", "en_GB", False, True, "East Midlands"),
    ("former@example.org", "Frankie Former", "volunteer", "en_GB", True, False, "East Midlands"),
]


def with_second_factor(email: str, role: str) -> bool:
    return Role(role) in STAFF_ROLES and email not in DEMO_WITHOUT_SECOND_FACTOR


def demo_logins() -> list[tuple[str, str, str]]:
    return [
        (email, role, DEMO_PASSWORD)
        for email, _n, role, _l, has_password, active, _r in DEMO_USERS
        if has_password and active
    ]


async def database_is_empty() -> bool:
    return not await User.exists()


async def seed_demo(settings: Settings, now: datetime | None = None) -> int:
    if settings.is_production or not settings.demo_data:
        raise SettingsError("Demo data is switched off here (COSA_DEMO_DATA), and is never loaded in production.")
    now = now or utcnow()
    password_hash = await hash_password(settings, DEMO_PASSWORD)
    sealed_secret = second_factor.seal(settings, DEMO_TOTP_SECRET)
    async with write_transaction():
        regions = {}
        for name in REGIONS:
            rows = await Region.insert(Region(name=name)).returning(Region.id)
            regions[name] = rows[0]["id"]
        users = {}
        for email, name, role, locale, has_password, active, region in DEMO_USERS:
            rows = await User.insert(
                User(
                    email=email,
                    display_name=name,
                    role=role,
                    locale=locale,
                    password_hash=password_hash if has_password else "",
                    is_active=active,
                    created_at=now,
                    activated_at=now if has_password else None,
                    password_changed_at=now if has_password else None,
                    deactivated_at=None if active else now,
                    region=regions.get(region),
                    totp_secret=sealed_secret if with_second_factor(email, role) else "",
                    totp_enabled_at=now if with_second_factor(email, role) else None,
                )
            ).returning(User.id)
            users[email] = rows[0]["id"]
        # The programme itself (core members, circles, volunteers) lives with its features.
        from circles.demo import seed_programme
        from circles.indicators import ensure_built_in

        await ensure_built_in()
        await seed_programme(regions, users, now)
    return len(DEMO_USERS)
