#!/usr/bin/env bash
# Benchmarks: figures to report in notes, not pass/fail tests.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== key pages (request rate and latency)"
.venv/bin/python bench/http_pages.py "$@"
echo "== matching 10,000 volunteers for one circle"
.venv/bin/python bench/matching.py
.venv/bin/python bench/escalation_latency.py
echo "== national-scale mixed load: 50 users for 60 s against a generated SQLite database (about 2 minutes)"
.venv/bin/python bench/load.py
