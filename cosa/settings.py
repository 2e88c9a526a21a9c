"""Settings, read once from the environment.

Every setting the application uses is here. A bad value stops start-up with a message that says which
variable is wrong and what would be right; in production, unsafe defaults are refused outright.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEVELOPMENT_SECRET = "development-only-secret-do-not-use-in-production"  # noqa: S105
ENVIRONMENTS = ("development", "test", "production")


class SettingsError(Exception):
    """A setting is missing or unsafe; the message names it and says how to fix it."""


@dataclass(frozen=True)
class Settings:
    env: str
    database_url: str
    secret_key: str
    base_url: str
    smtp_host: str
    smtp_port: int
    smtp_username: str
    smtp_password: str
    smtp_tls: str  # "none", "starttls" or "tls"
    mail_from: str
    cookie_secure: bool
    demo_data: bool
    scheduler_enabled: bool
    session_idle_minutes_staff: int
    session_idle_minutes_volunteer: int
    session_absolute_hours: int
    invitation_valid_hours: int
    dbs_renewal_years: int
    argon2_time_cost: int
    argon2_memory_kib: int
    requests_at_once: int  # per process; more wait their turn, in order (cosa/app.py); 0: no limit
    database_pool_size: int  # 0: no pool, a connection per query (the test client runs the app on another event loop)
    dev_mail_dir: Path
    log_level: str

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file named by `sqlite:///path` (relative paths are from the project root)."""
        raw = self.database_url.removeprefix("sqlite:///")
        path = Path(raw)
        return path if path.is_absolute() else PROJECT_ROOT / path


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}.")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}.") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name} must be between {minimum} and {maximum}, not {value}.")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and check the settings; raise SettingsError with a clear message when one is wrong."""
    env = os.environ if env is None else env
    app_env = env.get("COSA_ENV", "development").strip() or "development"
    if app_env not in ENVIRONMENTS:
        raise SettingsError(f"COSA_ENV must be one of {', '.join(ENVIRONMENTS)}, not {app_env!r}.")
    production = app_env == "production"

    database_url = env.get("DATABASE_URL", "").strip() or "sqlite:///var/cosa.sqlite3"
    if not database_url.startswith(("sqlite:///", "postgres://", "postgresql://")):
        raise SettingsError(
            "DATABASE_URL must start with sqlite:/// or postgresql:// "
            "(for example postgresql://cosa:password@127.0.0.1:5432/cosa)."
        )

    secret_key = env.get("SECRET_KEY", "").strip() or DEVELOPMENT_SECRET
    base_url = (env.get("BASE_URL", "").strip() or "http://127.0.0.1:8000").rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise SettingsError(f"BASE_URL must start with http:// or https://, not {base_url!r}.")
    cookie_secure = _bool(env, "COOKIE_SECURE", base_url.startswith("https://"))
    smtp_tls = env.get("SMTP_TLS", "none").strip().lower() or "none"
    if smtp_tls not in ("none", "starttls", "tls"):
        raise SettingsError(f"SMTP_TLS must be none, starttls or tls, not {smtp_tls!r}.")
    demo_data = _bool(env, "COSA_DEMO_DATA", not production)

    settings = Settings(
        env=app_env,
        database_url=database_url,
        secret_key=secret_key,
        base_url=base_url,
        smtp_host=env.get("SMTP_HOST", "127.0.0.1").strip() or "127.0.0.1",
        smtp_port=_int(env, "SMTP_PORT", 1025, 1, 65535),
        smtp_username=env.get("SMTP_USERNAME", ""),
        smtp_password=env.get("SMTP_PASSWORD", ""),
        smtp_tls=smtp_tls,
        mail_from=env.get("MAIL_FROM", "").strip() or "CoSA Circles <no-reply@cosa.invalid>",
        cookie_secure=cookie_secure,
        demo_data=demo_data,
        scheduler_enabled=_bool(env, "COSA_SCHEDULER", app_env != "test"),
        session_idle_minutes_staff=_int(env, "SESSION_IDLE_MINUTES_STAFF", 30, 1, 30),
        session_idle_minutes_volunteer=_int(env, "SESSION_IDLE_MINUTES_VOLUNTEER", 240, 1, 720),
        session_absolute_hours=_int(env, "SESSION_ABSOLUTE_HOURS", 12, 1, 12),
        invitation_valid_hours=_int(env, "INVITATION_VALID_HOURS", 72, 1, 336),
        dbs_renewal_years=_int(env, "DBS_RENEWAL_YEARS", 3, 1, 10),
        argon2_time_cost=_int(env, "ARGON2_TIME_COST", 3, 1, 20),
        argon2_memory_kib=_int(env, "ARGON2_MEMORY_KIB", 65536, 8, 1048576),
        database_pool_size=_int(env, "DATABASE_POOL_SIZE", 10, 0, 200),
        requests_at_once=_int(env, "REQUESTS_AT_ONCE", 8, 0, 10000),
        dev_mail_dir=Path(env.get("COSA_DEV_MAIL_DIR", "") or PROJECT_ROOT / "var" / "mail"),
        log_level=(env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"),
    )
    if production:
        _refuse_unsafe_production(settings)
    return settings


def _refuse_unsafe_production(settings: Settings) -> None:
    problems = []
    if settings.secret_key == DEVELOPMENT_SECRET or len(settings.secret_key) < 32:
        problems.append(
            "SECRET_KEY is the development default or shorter than 32 characters; "
            'set a long random value, e.g. python -c "import secrets; print(secrets.token_urlsafe(48))".'
        )
    if not settings.cookie_secure or not settings.base_url.startswith("https://"):
        problems.append("cookies would not be Secure: BASE_URL must be an https:// address and COOKIE_SECURE on.")
    if settings.demo_data:
        problems.append("demo data was requested (COSA_DEMO_DATA); demo accounts must never exist in production.")
    if settings.argon2_time_cost < 2 or settings.argon2_memory_kib < 19456:
        problems.append("ARGON2_TIME_COST/ARGON2_MEMORY_KIB are below the OWASP minimum (2 and 19456).")
    if problems:
        raise SettingsError("Refusing to start in production:\n- " + "\n- ".join(problems))


@cache
def get_settings() -> Settings:
    return load_settings()
