"""Signing a benchmark client in the way a browser does, with the second factor staff must give."""

from __future__ import annotations

import httpx
import pyotp


async def sign_in(client: httpx.AsyncClient, email: str, password: str, totp_secret: str = "") -> None:
    """Password, then (for staff) the current code from `totp_secret`. Raises SystemExit when refused."""
    await client.get("/login")
    response = await client.post(
        "/login", data={"email": email, "password": password, "_csrf_token": client.cookies["csrftoken"]}
    )
    if response.status_code != 303:
        raise SystemExit(f"could not sign in as {email}: HTTP {response.status_code}")
    if response.headers["location"].startswith("/login/second-factor"):
        if not totp_secret:
            raise SystemExit(f"{email} needs a second factor and no key was given")
        response = await client.post(
            "/login/second-factor",
            data={"code": pyotp.TOTP(totp_secret).now(), "_csrf_token": client.cookies["csrftoken"]},
        )
        if response.status_code != 303:
            raise SystemExit(f"the second factor for {email} was refused: HTTP {response.status_code}")
