"""The health check and, in development only, the captured-mail page."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from cosa.auth import public
from cosa.db import engine
from cosa.web import render

Req = Request[Any, Any, Any]
LINK = re.compile(r"https?://[^\s<>\"]+")


@get("/healthz", name="healthz", guards=[public])
async def healthz() -> Response[dict[str, str]]:
    try:
        await engine().run_ddl("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return Response({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return Response({"status": "ok", "database": "ok"})


def _read_message(path: Path) -> dict[str, Any]:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body_part = message.get_body(preferencelist=("plain",))
    body = body_part.get_content() if body_part is not None else ""
    return {
        "name": path.stem,
        "to": message.get("X-RcptTo") or message.get("To", ""),
        "subject": message.get("Subject", ""),
        "date": message.get("Date", ""),
        "body": body,
        "links": LINK.findall(body),
    }


def captured_mail(directory: Path, limit: int = 50) -> list[dict[str, Any]]:
    if not directory.is_dir():
        return []
    files = sorted(directory.glob("*.eml"), reverse=True)[:limit]
    return [_read_message(path) for path in files]


@get("/dev/mail", name="dev:mail", guards=[public])
async def dev_mail(request: Req) -> Response[Any]:
    """Mail caught by the local SMTP catcher of `make run` (this route exists only in development)."""
    return render(request, "dev/mail.html", {"messages": captured_mail(request.app.state.settings.dev_mail_dir)})


@get("/dev/mail/{message:str}", name="dev:mail_message", guards=[public])
async def dev_mail_message(request: Req, message: FromPath[str]) -> Response[Any]:
    if not re.fullmatch(r"[0-9A-Za-z_-]{1,80}", message):
        raise NotFoundException()
    path = request.app.state.settings.dev_mail_dir / f"{message}.eml"
    if not path.is_file():
        raise NotFoundException()
    return render(request, "dev/message.html", {"message": _read_message(path)})
