"""Settings from the environment; production refuses unsafe values with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cosa.settings import DEVELOPMENT_SECRET, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[3]
GOOD_PRODUCTION = {
    "COSA_ENV": "production",
    "SECRET_KEY": "x" * 48,
    "BASE_URL": "https://cosa.example.org",
    "DATABASE_URL": "postgresql://cosa@127.0.0.1/cosa",
}


def test_development_defaults_are_usable():
    settings = load_settings({})
    assert settings.env == "development"
    assert settings.database_url.startswith("sqlite:///")
    assert not settings.cookie_secure and settings.demo_data


def test_a_good_production_configuration_is_accepted():
    settings = load_settings(GOOD_PRODUCTION)
    assert settings.cookie_secure and not settings.demo_data and settings.is_postgres


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": DEVELOPMENT_SECRET}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"BASE_URL": "http://cosa.example.org"}, "Secure"),
        ({"COOKIE_SECURE": "false"}, "Secure"),
        ({"COSA_DEMO_DATA": "true"}, "demo data"),
        ({"ARGON2_TIME_COST": "1"}, "ARGON2"),
    ],
)
def test_production_refuses_unsafe_settings(change, message):
    with pytest.raises(SettingsError, match=message):
        load_settings({**GOOD_PRODUCTION, **change})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"COSA_ENV": "staging"}, "COSA_ENV"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"SMTP_PORT": "smtp"}, "SMTP_PORT"),
        ({"SMTP_PORT": "70000"}, "SMTP_PORT"),
        ({"SESSION_IDLE_MINUTES_STAFF": "90"}, "SESSION_IDLE_MINUTES_STAFF"),
        ({"COOKIE_SECURE": "maybe"}, "COOKIE_SECURE"),
    ],
)
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(env)


def test_the_app_refuses_to_start_in_production_with_default_secrets():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COSA_", "SECRET_KEY", "ARGON2_"))}
    env.update({"COSA_ENV": "production", "BASE_URL": "https://cosa.example.org"})
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "--factory", "cosa.app:create_app", "--port", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Refusing to start in production" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_the_command_line_refuses_demo_data_in_production():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COSA_", "ARGON2_"))}
    env.update({**GOOD_PRODUCTION, "COSA_DEMO_DATA": "1"})
    result = subprocess.run(
        [sys.executable, "-m", "cosa", "seed-demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "demo data" in result.stderr
