#!/usr/bin/env bash
# Benchmarks: figures to report in notes, not pass/fail tests.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python bench/http_pages.py "$@"
