#!/usr/bin/env bash
# Read benchmark: TSBS cpu-only data (100 hosts x 10 fields every 10 s for 24 h) written to
# Strata (release build) and flushed, then the TSBS query types in SQL on Strata's
# /api/v3/query_sql beside DuckDB (PyPI `duckdb`, in-process) over the same Parquet files, in
# one run. Prints a markdown table of median latencies and their ratios.
#
#   bash benches/query-compare.sh
#   HOURS=12 ROUNDS=9 bash benches/query-compare.sh     # smaller, quicker
#   STRATA_BIN=/tmp/strata-other bash benches/query-compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
STRATA_BIN=${STRATA_BIN:-target/release/strata}
WORK=$(mktemp -d /tmp/strata-query.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
log() { printf '[query-compare %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

python3 -c "import duckdb" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore duckdb==1.1.3
if [ "$STRATA_BIN" = target/release/strata ]; then
  log "building the release binary"
  cargo build --release -q -p server --bin strata
fi
URL=http://127.0.0.1:18096
start() {
  "$STRATA_BIN" serve --http-bind 127.0.0.1:18096 --data-dir "$WORK/data" --admin-token bench \
    --flush-interval-ms 3600000 --log warn >>"$WORK/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 300); do curl -sf -o /dev/null "$URL/ping" && return 0; sleep 0.1; done
  log "server did not come up"; cat "$WORK/server.log" >&2; return 1
}
stop() { kill -TERM "$PID"; wait "$PID" || true; PID=; }

start
log "loading"
python3 benches/query_bench.py load "$URL"
# A graceful stop flushes everything; the restarted server reads only Parquet files.
stop
start
find "$WORK/data" -name '*.parquet' | python3 -c 'import json,sys; json.dump([l.strip() for l in sys.stdin], sys.stdout)' >"$WORK/files.json"
log "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$WORK/files.json") Parquet files, $(du -sh "$WORK/data" | cut -f1)"
python3 benches/query_bench.py query "$URL" "$WORK/files.json"
stop
