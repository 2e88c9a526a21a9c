"""The `python -m cosa` command line: migrate, demo data, the development server, the first admin."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from cosa.settings import SettingsError, get_settings


def _migrate() -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    result = asyncio.run(run_forwards("all"))
    if not result.success:
        raise SystemExit(f"Migrations failed: {result.message}")


async def _seed_if_empty() -> bool:
    from cosa.demo import database_is_empty, seed_demo

    if not await database_is_empty():
        return False
    await seed_demo(get_settings())
    return True


def _print_logins() -> None:
    from cosa.demo import DEMO_TOTP_SECRET, DEMO_WITHOUT_SECOND_FACTOR, demo_logins

    print("\nDemo logins (demo data only; every account uses the same password):")
    for email, role, password in demo_logins():
        note = "  (sets up two-step verification at first sign-in)" if email in DEMO_WITHOUT_SECOND_FACTOR else ""
        print(f"  {role:<12} {email:<28} {password}{note}")
    print(
        f"\nStaff also give a code from an authenticator app. Demo key: {DEMO_TOTP_SECRET}\n"
        "Add it to any authenticator app, or print the current code with: .venv/bin/python -m cosa demo-code"
    )


async def _create_admin(email: str, name: str) -> str:
    from cosa import audit
    from cosa.clock import utcnow
    from cosa.db import write_transaction
    from cosa.forms import EMAIL_PATTERN, clean_email
    from cosa.tables import User
    from cosa.users import issue_invitation_token

    settings = get_settings()
    email = clean_email(email)
    if not EMAIL_PATTERN.match(email):
        raise SystemExit("That is not an email address.")
    now = utcnow()
    async with write_transaction():
        if await User.exists().where(User.email == email):
            raise SystemExit("There is already an account with this email address.")
        rows = await User.insert(
            User(email=email, display_name=name.strip() or email, role="admin", created_at=now)
        ).returning(User.id, User.public_id)
        token = await issue_invitation_token(settings, rows[0]["id"], None, now)
        await audit.record(
            audit.Action.USER_INVITED,
            object_type="user",
            object_id=rows[0]["public_id"],
            detail={"role": "admin", "via": "cli"},
        )
    return f"{settings.base_url}/invitation/{token}"


async def _verify_audit() -> int:
    from cosa.audit import verify_chain

    report = await verify_chain()
    if report.ok:
        print(f"The audit trail is intact: {report.rows} rows, each linked to the one before.")
        return 0
    if report.broken_seq is None:
        print(f"The audit trail is broken: {report.reason}.", file=sys.stderr)
    else:
        print(
            f"The audit trail is broken at row {report.broken_seq} (id {report.broken_id}): {report.reason}. "
            f"The {report.rows} rows before it check out.",
            file=sys.stderr,
        )
    return 1


def _backup(path: str) -> int:
    from pathlib import Path

    from cosa.backup import BackupError, make_backup

    try:
        summary = asyncio.run(make_backup(get_settings(), Path(path), progress=_progress))
    except BackupError as error:
        print(f"No backup was made. {error}", file=sys.stderr)
        return 1
    print(summary.line())
    return 0


def _restore(path: str) -> int:
    from pathlib import Path

    from cosa.backup import BackupError, RestoreCheckFailed, restore_backup

    try:
        summary = asyncio.run(restore_backup(get_settings(), Path(path), progress=_progress))
    except RestoreCheckFailed as error:
        print(f"The restored database needs attention. {error}", file=sys.stderr)
        return 1
    except BackupError as error:
        print(f"Restore refused; the database was not changed. {error}", file=sys.stderr)
        return 1
    print(summary.line())
    if summary.replaced:
        kept = ", ".join(str(aside) for aside in summary.replaced)
        print(f"The database it replaced is kept beside it ({kept}); delete it once you no longer need it.")
    print("If the backup comes from an older version of CoSA Circles, run `python -m cosa migrate` next.")
    return asyncio.run(_verify_audit())


def _progress(step: str) -> None:
    print(step, file=sys.stderr, flush=True)


def _retention(run_now: bool) -> int:
    from circles.retention import dry_run, report_lines, run

    report = asyncio.run(run(via="cli") if run_now else dry_run())
    print("\n".join(report_lines(report)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cosa", description="CoSA Circles")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply database migrations")
    commands.add_parser("seed-demo", help="load demo data if the database is empty (never in production)")
    commands.add_parser("run-dev", help="migrate, seed demo data, start a mail catcher and serve on :8000")
    admin = commands.add_parser("create-admin", help="create the first administrator and print a one-time link")
    admin.add_argument("email")
    admin.add_argument("name")
    commands.add_parser("demo-code", help="print the current two-step code of the demo staff (demo data only)")
    audit = commands.add_parser("audit", help="the audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    audit_commands.add_parser("verify", help="check the whole hash chain and name the first broken row")
    retention = commands.add_parser("retention", help="anonymise personal data whose retention period has passed")
    retention_mode = retention.add_mutually_exclusive_group(required=True)
    retention_mode.add_argument("--dry-run", action="store_true", help="list what would be anonymised; change nothing")
    retention_mode.add_argument("--run", action="store_true", help="anonymise it now (the daily job does the same)")
    backup = commands.add_parser(
        "backup", help="write a consistent backup of the database to a new file while the app runs"
    )
    backup.add_argument("path", help="the backup file to create (it must not exist yet)")
    restore = commands.add_parser(
        "restore",
        help="check a backup and replace the database with it; stop the app first",
        description="Checks the backup (checksum, SQLite integrity check or pg_restore --list) and only then "
        "replaces the DATABASE_URL database with it. Stop every app process first. On SQLite the replaced "
        "database is kept beside it; on PostgreSQL the restore runs in one transaction.",
    )
    restore.add_argument("path", help="a file made by `python -m cosa backup`")
    args = parser.parse_args(argv)

    try:
        settings = get_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2

    if args.command == "migrate":
        _migrate()
    elif args.command == "demo-code":
        import pyotp

        from cosa.demo import DEMO_TOTP_SECRET

        if settings.is_production or not settings.demo_data:
            print("There is no demo data here, so no demo code.", file=sys.stderr)
            return 2
        print(pyotp.TOTP(DEMO_TOTP_SECRET).now())
    elif args.command == "audit":
        return asyncio.run(_verify_audit())
    elif args.command == "retention":
        return _retention(args.run)
    elif args.command == "backup":
        return _backup(args.path)
    elif args.command == "restore":
        return _restore(args.path)
    elif args.command == "seed-demo":
        _migrate()
        print(
            "Demo data loaded." if asyncio.run(_seed_if_empty()) else "The database already has data; nothing loaded."
        )
    elif args.command == "create-admin":
        _migrate()
        link = asyncio.run(_create_admin(args.email, args.name))
        print(
            f"Administrator created. Open this link once, within {settings.invitation_valid_hours} hours, to set the password:\n{link}"
        )
    elif args.command == "run-dev":
        from cosa.devserver import serve, start_mail_catcher

        _migrate()
        if settings.demo_data and asyncio.run(_seed_if_empty()):
            print("Demo data loaded.")
        catcher = start_mail_catcher(settings)
        if settings.demo_data:
            _print_logins()
        print(
            f"\nMail is caught at smtp://{settings.smtp_host}:{settings.smtp_port} and shown at {settings.base_url}/dev/mail"
        )
        print(f"CoSA Circles runs at {settings.base_url}  (Ctrl+C to stop)\n")
        try:
            serve(settings)
        finally:
            catcher.stop()
    return 0
