"""The one clock. Code takes `now` as an argument where it can; where it cannot, it calls `utcnow()`."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
