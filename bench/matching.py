"""Time of volunteers.matching.rank() for one circle over many generated volunteers.

    .venv/bin/python bench/matching.py [--volunteers 10000] [--repeat 20] [--seed 7]

Volunteers are generated in memory (no database): a realistic mix of statuses, vetting gaps, districts
around the venue and across the UK, languages, availability and declared connections, some of them
overlapping the core member's risk connections. Prints the first (cold) run, then median and p95 in ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from volunteers import postcodes
from volunteers.matching import Candidate, CircleProfile, rank
from volunteers.rules import SLOTS

TODAY = date(2026, 11, 27)
STATUSES = ["active"] * 14 + ["applicant", "in_vetting", "trained", "resting", "left"]
MISSING = ["interview", "references", "dbs", "training_core", "training_msht", "training_trauma"]
GENDERS = ["woman", "woman", "man", "man", "non_binary", "other", "not_said", ""]
LANGUAGES = ["en", "cy", "pl", "ro", "sq", "vi", "ar", "ur", "pa", "lt", "ti", "ku"]
NEAR_VENUE = ["NG1", "NG2", "NG3", "NG5", "NG7", "NG8", "NG9", "NG10", "DE1", "DE22", "LE1", "S1", "S2"]
DECLARED = (
    "I volunteer at the food bank in Hyson Green and my sister lives near Radford. Used to work in a car "
    "wash in Leicester years ago. Member of the Polish church community, coach for a youth football team "
    "in Beeston, grew up in Sheffield, cousin works at a nail bar on Mansfield Road, no links to report"
)
WORDS = DECLARED.split()


def circle() -> CircleProfile:
    return CircleProfile(
        meeting_slot="tue-evening",
        venue_district="NG1",
        languages=frozenset({"pl", "en"}),
        gender_preference="woman",
        risk_districts=frozenset({"NG7", "S2", "LE4"}),
        risk_descriptions=(
            "Gangmaster's associates around the Sunrise car wash, Alfreton Road, NG7",
            "Cuckooed flat in the Manor estate, Sheffield S2",
            "Uncle Marek, who recruited for the warehouse agency in Leicester",
        ),
        member_genders=("man", "woman"),
        member_experience=(0, 2),
    )


def volunteers(count: int, rng: random.Random) -> list[Candidate]:
    everywhere = sorted(postcodes.centroids())
    people = []
    for i in range(count):
        status = rng.choice(STATUSES)
        home = rng.choice(NEAR_VENUE) if rng.random() < 0.7 else rng.choice(everywhere)
        text = " ".join(rng.sample(WORDS, rng.randint(3, 18))) if rng.random() < 0.6 else ""
        people.append(
            Candidate(
                public_id=f"v{i:05d}",
                name=f"Volunteer {rng.randint(1, count // 2):05d}",
                status=status,
                missing=tuple(rng.sample(MISSING, rng.choice([0, 0, 0, 0, 1, 2]))),
                dbs_expires_on=TODAY + timedelta(days=rng.randint(-200, 1000)) if rng.random() < 0.97 else None,
                active_circles=rng.choice([0, 0, 0, 1, 1, 2]),
                max_circles=rng.choice([1, 2, 2, 3]),
                circles_completed=rng.choice([0, 0, 1, 2, 3, 5]),
                gender=rng.choice(GENDERS),
                languages=frozenset(rng.sample(LANGUAGES, rng.randint(0, 3))),
                home_district=home if rng.random() < 0.95 else "",
                availability=frozenset(rng.sample(SLOTS, rng.randint(0, 8))),
                declared_districts=frozenset(rng.sample(NEAR_VENUE, rng.choice([0, 0, 1, 2]))),
                declared_connections=text,
                in_this_circle=rng.random() < 0.001,
            )
        )
    return people


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--volunteers", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    pool = volunteers(args.volunteers, random.Random(args.seed))
    profile = circle()
    postcodes.centroids.cache_clear()  # so the cold run includes reading the postcode file, as after a restart

    timings = []
    for run in range(args.repeat + 1):
        started = time.perf_counter()
        proposals = rank(pool, profile, TODAY)
        elapsed = (time.perf_counter() - started) * 1000
        if run == 0:
            cold = elapsed
        else:
            timings.append(elapsed)
        print(f"\rranking {run}/{args.repeat}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    eligible = sum(1 for p in proposals if not p.excluded)
    conflicts = sum(1 for p in proposals if any(r.code.startswith("conflict_") for r in p.exclusions))
    p95 = statistics.quantiles(timings, n=20, method="inclusive")[-1] if len(timings) > 1 else timings[0]
    print(f"rank() over {len(pool):,} volunteers: {eligible:,} proposed, {len(pool) - eligible:,} excluded")
    print(f"  ({conflicts:,} of them for a conflict with risk connections)")
    print(f"  first run (reads postcode file): {cold:.1f} ms")
    print(f"  median {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms over {len(timings)} runs")


if __name__ == "__main__":
    main()
