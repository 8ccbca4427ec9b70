#!/usr/bin/env bash
# The import benchmark: writes a spreadsheet (CSV, Dutch headers, `;`-separated, as Belgian
# Excel saves it) of generated initiatives, imports it with `stroom import` into a database
# holding the demo data, imports it a second time (every row unchanged), and prints rows per
# second, the time and the peak memory of each run.
#
#   BENCH_IMPORT_ROWS    rows in the file (default 100000)
#   BENCH_PROFILE        cargo profile to build: release (default) or debug (a quick smoke run)
#   BENCH_DATABASE_URL   the database (default: a fresh SQLite file in a temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${BENCH_IMPORT_ROWS:-100000}
profile=${BENCH_PROFILE:-release}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "$profile" = release ]; then
  cargo build --quiet --locked --release --bin stroom
  bin=target/release/stroom
else
  cargo build --quiet --locked --bin stroom
  bin=target/debug/stroom
fi
url=${BENCH_DATABASE_URL:-"sqlite://$work/import.db?mode=rwc"}
export DATABASE_URL="$url" RUST_LOG=warn
"$bin" seed --demo
file="$work/initiatives.csv"
awk -v rows="$rows" 'BEGIN {
  print "externe ID;naam;naam (en);beschrijving;fase;initiatiefnemer;verdienmodel;betaalbaarheid;startdatum;website;thema'"'"'s;gemeente";
  split("IDEA PILOT RUNNING SELF_SUSTAINING", stages, " ");
  split("repair reuse food sharing_economy textile", themes, " ");
  for (i = 1; i <= rows; i++) {
    printf "BENCH-%d;Initiatief %d;Initiative %d;Een buurtinitiatief rond hergebruik, nummer %d.;%s;CITIZENS;VOLUNTEER;FREE;2024-%02d-%02d;https://example.org/%d;\"%s; %s\";Mechelen\n",
      i, i, i, i, stages[1 + i % 4], 1 + i % 12, 1 + i % 28, i, themes[1 + i % 5], themes[1 + (i + 2) % 5];
  }
}' > "$file"
echo "import benchmark: $rows rows, $(du -h "$file" | cut -f1) of CSV, $profile build, ${url%%\?*}"
for run in first again; do
  /usr/bin/time -f "%e %M" -o "$work/time" "$bin" import "$file" --type initiatives --quiet > "$work/out" || {
    cat "$work/out"; exit 1; }
  read -r seconds kilobytes < "$work/time"
  summary=$(grep -E '^[0-9]+ rows:' "$work/out")
  awk -v run="$run" -v s="$seconds" -v kb="$kilobytes" -v rows="$rows" -v summary="$summary" 'BEGIN {
    printf "%-6s %8.1f s  %9.0f rows/s  peak memory %5.0f MB  (%s)\n", run, s, rows / s, kb / 1024, summary }'
done
