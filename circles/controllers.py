"""Core member records, circles, their lifecycle and members, matching, dashboards."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
