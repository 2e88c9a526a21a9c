"""CSRF protection for every unsafe request: Litestar's middleware, refusing (not crashing on) odd tokens."""

from __future__ import annotations

from litestar.config.csrf import CSRFConfig
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware


class StrictCSRFMiddleware(CSRFMiddleware):
    """Litestar's CSRF middleware, except that a token with characters outside ASCII is simply wrong.

    Litestar compares tokens with hmac.compare_digest, which raises TypeError for text that is not ASCII, so
    anyone could turn the 403 for a forged form into a server error (found by tests/integration/test_fuzz_forms.py).
    """

    def _decode_csrf_token(self, token: str) -> str | None:
        if not token.isascii():
            return None
        return super()._decode_csrf_token(token)


def csrf_middleware(config: CSRFConfig) -> DefineMiddleware:
    """The middleware to list in the app's `middleware` (instead of passing `csrf_config` to Litestar)."""
    return DefineMiddleware(StrictCSRFMiddleware, config=config)
