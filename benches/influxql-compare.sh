#!/usr/bin/env bash
# InfluxQL read benchmark: the TSBS cpu-only data of query-compare.sh (100 hosts x 10 fields
# every 10 s for 24 h) written through /write to Strata (release build; flushed by a graceful
# stop, then restarted so it reads Parquet) and to InfluxDB 1.x (Debian `influxdb`), then the
# TSBS query types in InfluxQL on both /query endpoints, alternating, in one run. Prints a
# markdown table of median latencies and their ratios.
#
#   bash benches/influxql-compare.sh
#   HOURS=12 ROUNDS=9 bash benches/influxql-compare.sh     # smaller, quicker
set -euo pipefail
cd "$(dirname "$0")/.."
STRATA_BIN=${STRATA_BIN:-target/release/strata}
WORK=$(mktemp -d /tmp/strata-influxql.XXXXXX)
SPID= IPID=
cleanup() {
  [ -n "$SPID" ] && kill "$SPID" 2>/dev/null
  [ -n "$IPID" ] && kill "$IPID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { printf '[influxql-compare %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
wait_ping() {
  for _ in $(seq 1 300); do curl -sf -o /dev/null "$1/ping" && return 0; sleep 0.1; done
  log "$1 did not come up"; return 1
}

command -v influxd >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq influxdb >/dev/null
}
if [ "$STRATA_BIN" = target/release/strata ]; then
  log "building the release binary"
  cargo build --release -q -p server --bin strata
fi
SURL=http://127.0.0.1:18097 IURL=http://127.0.0.1:18098
start_strata() {
  "$STRATA_BIN" serve --http-bind 127.0.0.1:18097 --data-dir "$WORK/strata" --admin-token bench \
    --flush-interval-ms 3600000 --log warn >>"$WORK/strata.log" 2>&1 &
  SPID=$!
  wait_ping "$SURL"
  kill -0 "$SPID"
}
cat >"$WORK/influxd.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:18099"
[meta]
  dir = "$WORK/influx/meta"
[data]
  dir = "$WORK/influx/data"
  wal-dir = "$WORK/influx/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:18098"
  log-enabled = false
[continuous_queries]
  enabled = false
CONF
influxd -config "$WORK/influxd.conf" >"$WORK/influxd.log" 2>&1 &
IPID=$!
wait_ping "$IURL"
kill -0 "$IPID"
curl -sf -XPOST "$IURL/query" --data-urlencode 'q=CREATE DATABASE tsbs' >/dev/null

start_strata
log "loading Strata"
python3 benches/influxql_bench.py load "$SURL" bench
log "loading InfluxDB 1.x"
python3 benches/influxql_bench.py load "$IURL"
# A graceful stop flushes everything; the restarted server reads Parquet files.
kill -TERM "$SPID"; wait "$SPID" || true; SPID=
start_strata
log "Strata: $(find "$WORK/strata" -name '*.parquet' | wc -l) Parquet files, $(du -sh "$WORK/strata" | cut -f1); InfluxDB: $(du -sh "$WORK/influx" | cut -f1)"
python3 benches/influxql_bench.py query "$SURL" "$IURL"
