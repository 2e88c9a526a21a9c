"""In development, `make run` catches mail with a real aiosmtpd server and the app shows it at /dev/mail."""

from __future__ import annotations

import dataclasses

from litestar.testing import AsyncTestClient

from cosa import outbox
from cosa.app import create_app
from cosa.clock import utcnow
from cosa.db import write_transaction
from cosa.devserver import start_mail_catcher
from tests.integration.conftest import free_port


async def test_caught_mail_is_listed_and_readable(settings, tmp_path):
    dev = dataclasses.replace(settings, env="development", smtp_port=free_port(), dev_mail_dir=tmp_path / "mail")
    catcher = start_mail_catcher(dev)
    try:
        async with write_transaction():
            await outbox.enqueue(
                dev,
                recipient="nia@example.org",
                subject="You are invited",
                now=utcnow(),
                kind="invitation",
                body_text="Use this link: http://127.0.0.1:8000/invitation/abc123",
            )
        assert (await outbox.deliver_due(dev)).sent == 1
    finally:
        catcher.stop()
    async with AsyncTestClient(app=create_app(dev)) as client:
        listing = await client.get("/dev/mail")
        assert listing.status_code == 200
        assert "You are invited" in listing.text and "nia@example.org" in listing.text
        assert 'href="http://127.0.0.1:8000/invitation/abc123"' in listing.text
        [name] = [p.stem for p in (tmp_path / "mail").glob("*.eml")]
        message = await client.get(f"/dev/mail/{name}")
        assert message.status_code == 200 and "Use this link" in message.text
        assert (await client.get("/dev/mail/..%2F..%2Fetc%2Fpasswd")).status_code == 404
