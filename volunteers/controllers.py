"""Volunteer pages for coordinators: the pipeline, vetting and training, profile, supervision."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
