"""Where UK postcode districts are, roughly, and how far apart they are.

Centroids come from `volunteers/data/uk-postcode-districts.csv` (derived from Ordnance Survey / ONS open
postcode data, Open Government Licence; see `volunteers/data/README.md`). A centroid can be several
kilometres from a given address in its district: good for "about 4 km", not for directions.
"""

from __future__ import annotations

import csv
import math
from functools import cache
from pathlib import Path

from volunteers.rules import normalise_district

DATA_FILE = Path(__file__).parent / "data" / "uk-postcode-districts.csv"
EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)


@cache
def centroids() -> dict[str, tuple[float, float]]:
    """Every known district to its (latitude, longitude), read from the bundled file once per process."""
    with DATA_FILE.open(newline="", encoding="utf-8") as handle:
        return {
            row["district"].strip().upper(): (float(row["latitude"]), float(row["longitude"]))
            for row in csv.DictReader(handle)
        }


def centroid(district: str) -> tuple[float, float] | None:
    """(latitude, longitude) of a district such as 'NG7', 'ng7 ' or a full postcode; None when unknown."""
    key = normalise_district(district)
    return centroids().get(key) if key else None


def distance_km(a: str, b: str) -> float | None:
    """Great-circle distance in km between two districts' centroids; None when either is unknown."""
    first = centroid(a)
    second = centroid(b)
    if first is None or second is None:
        return None
    return haversine_km(first, second)


def haversine_km(first: tuple[float, float], second: tuple[float, float]) -> float:
    lat1, lon1 = map(math.radians, first)
    lat2, lon2 = map(math.radians, second)
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
