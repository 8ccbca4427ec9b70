#!/usr/bin/env bash
# Stroom, PostGraphile v4 and PostGraphile v5 side by side on the same PostgreSQL database, then
# the SQL ceiling; the settings are `scripts/bench.sh`'s (BENCH_* variables).
exec "$(dirname "$0")/bench.sh" peer "$@"
