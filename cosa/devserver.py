"""`make run`: a local mail catcher (aiosmtpd) and the app on http://127.0.0.1:8000, for development."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller

from cosa.settings import Settings


class MaildirHandler:
    """Writes each message it receives to a folder, where the app's /dev/mail page reads it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's API
        headers = f"X-RcptTo: {', '.join(envelope.rcpt_tos)}\r\n".encode()
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        (self.directory / name).write_bytes(headers + envelope.original_content)
        return "250 Message accepted for delivery"


def start_mail_catcher(settings: Settings) -> Controller:
    controller = Controller(MaildirHandler(settings.dev_mail_dir), hostname=settings.smtp_host, port=settings.smtp_port)
    controller.start()
    return controller


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> None:
    uvicorn.run("cosa.app:create_app", factory=True, host=host, port=port, access_log=False, log_level="info")
