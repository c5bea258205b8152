#!/usr/bin/env bash
# Side-by-side write benchmark: Strata (release build), InfluxDB 1.x (Debian `influxdb`) and
# VictoriaMetrics (Debian `victoria-metrics`), one after another on loopback with fresh data dirs,
# the same strata-load scenarios against each. Prints a markdown report (also written to
# $OUT, default benches/compare-latest.md).
#
#   bash benches/compare.sh            # full run (~25 min on 2 cores)
#   POINTS=200000 bash benches/compare.sh   # quicker, smaller
#   SERVERS="strata influxdb" SCENARIOS="a d e" bash benches/compare.sh   # a subset ((e) needs (a))
set -euo pipefail
cd "$(dirname "$0")/.."
# (a) and (b) must last long enough to include the flushes a sustained load causes: 1 M points
# took Strata 0.4 s, a burst that (e)'s "half of (a)" rate then could not sustain.
POINTS=${POINTS:-5000000}
HC_POINTS=${HC_POINTS:-1000000}
SEQ_POINTS=${SEQ_POINTS:-5000}
E_POINTS=${E_POINTS:-15000000}
OUT=${OUT:-benches/compare-latest.md}
SERVERS=${SERVERS:-strata influxdb victoria-metrics}
SCENARIOS=${SCENARIOS:-a b c d e}
WORK=$(mktemp -d /tmp/strata-compare.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

log() { printf '[compare %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if ! command -v influxd >/dev/null || ! command -v victoria-metrics >/dev/null; then
  log "installing reference servers from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq influxdb victoria-metrics >/dev/null
fi
log "building release binaries"
cargo build --release -q -p server --bin strata -p strata-benches --bin strata-load
LOAD=target/release/strata-load

wait_ping() { # url
  for _ in $(seq 1 300); do curl -sf -o /dev/null "$1/ping" && return 0; sleep 0.1; done
  log "server at $1 did not come up"; return 1
}

start_server() { # name dir -> sets PID URL TOKEN
  local name=$1 dir=$2
  mkdir -p "$dir"
  case $name in
    strata)
      URL=http://127.0.0.1:18086; TOKEN=bench
      # A 1 s flush interval puts Strata's Parquet flush inside strata-load's settle window, so
      # its CPU is counted like the other servers' deferred work.
      target/release/strata serve --http-bind 127.0.0.1:18086 --data-dir "$dir" --admin-token bench \
        --flush-interval-ms 1000 --log warn >"$dir.log" 2>&1 &
      PID=$! ;;
    influxdb)
      URL=http://127.0.0.1:18087; TOKEN=
      cat >"$dir.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:18088"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  wal-fsync-delay = "0s"
  max-series-per-database = 0
  max-values-per-tag = 0
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:18087"
  log-enabled = false
[continuous_queries]
  enabled = false
CONF
      influxd -config "$dir.conf" >"$dir.log" 2>&1 &
      PID=$! ;;
    victoria-metrics)
      URL=http://127.0.0.1:18089; TOKEN=
      victoria-metrics -storageDataPath "$dir" -httpListenAddr 127.0.0.1:18089 -loggerLevel ERROR >"$dir.log" 2>&1 &
      PID=$! ;;
  esac
  PIDS+=("$PID")
  wait_ping "$URL"
  if [ "$name" = influxdb ]; then curl -sf -XPOST "$URL/query" --data-urlencode 'q=CREATE DATABASE bench' >/dev/null; fi
}

stop_server() { # pid dir -> prints bytes on disk after a graceful stop
  kill -TERM "$1"; for _ in $(seq 1 600); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  du -sb "$2" | cut -f1
}

run() { # scenario server args...
  local scenario=$1 server=$2; shift 2
  local json="$WORK/$scenario-$server.json"
  log "$scenario on $server: strata-load $*"
  $LOAD --url "$URL" ${TOKEN:+--token "$TOKEN"} --server-pid "$PID" --json "$json" "$@" >&2
  echo "$json"
}

read -r FSYNC FSYNC_OVER <<<"$($LOAD --fsync-probe "$WORK")"
log "raw fdatasync rate of this disk: $FSYNC/s (4 KiB appends), $FSYNC_OVER/s (4 KiB overwrites)"
read -r BW BW_P50 BW_P99 <<<"$($LOAD --bandwidth-probe "$WORK")"
log "sustained fdatasync'd bandwidth: $BW MB/s in 1.4 MB writes (p50 $BW_P50 ms, p99 $BW_P99 ms)"

declare -A RESULT DISK RAW PING
for server in $SERVERS; do
  for scenario in $SCENARIOS; do
    dir="$WORK/$server-$scenario"
    start_server "$server" "$dir"
    case $scenario in
      a) j=$(run a "$server" --series 10000 --batch 5000 --concurrency 4 --points "$POINTS") ;;
      b) j=$(run b "$server" --series 10000 --batch 5000 --concurrency 4 --points "$POINTS" --gzip) ;;
      c) j=$(run c "$server" --series 1000000 --batch 5000 --concurrency 4 --points "$HC_POINTS") ;;
      d) # This disk's sync cost drifts by 2x within minutes: probe it right before and after.
         before=$($LOAD --fsync-probe "$WORK")
         j=$(run d "$server" --series 100 --batch 1 --concurrency 1 --points "$SEQ_POINTS")
         RAW[$server]="$before $($LOAD --fsync-probe "$WORK")"
         # The same sequential client with no storage work: the HTTP round trip every ack pays.
         $LOAD --url "$URL" --ping --batch 1 --concurrency 1 --points "$SEQ_POINTS" --json "$WORK/ping-$server.json" >/dev/null 2>&1
         PING[$server]=$(python3 -c "import json;print(json.load(open('$WORK/ping-$server.json'))['requests_per_s'])") ;;
      e) # Half of what (a) sustained: points over the time until the server had also done the
         # work it deferred past its acknowledgements (a burst absorbed into memory is not a
         # rate a server can keep up).
         rate=$(python3 -c "import json;print(int(json.load(open('${RESULT[$server-a]}'))['sustained_points_per_s']/2))")
         # Steady state: a short load that creates the database and schema, then 15 s at
         # that rate of which the first 5 s are sent but not measured (every server's buffers,
         # files, caches and background work reach their running state), then 10 s measured
         # (at most $E_POINTS points in all; bodies are built up front).
         $LOAD --url "$URL" ${TOKEN:+--token "$TOKEN"} --series 10000 --batch 5000 --concurrency 4 --points 100000 >/dev/null 2>&1 || true
         pts=$((rate * 15)); [ "$pts" -gt "$E_POINTS" ] && pts=$E_POINTS
         j=$(run e "$server" --series 10000 --batch 5000 --concurrency 4 --rate "$rate" --warmup-s 5 --points "$pts") ;;
    esac
    RESULT[$server-$scenario]=$j
    DISK[$server-$scenario]=$(stop_server "$PID" "$dir")
  done
done
# Each server's (d) against the raw sync rates measured around it, and against InfluxDB's.
DNOTES=""
if [[ " $SCENARIOS " == *" d "* ]]; then
  for server in $SERVERS; do
    DNOTES+=$(python3 - "${RESULT[$server-d]}" "${RESULT[influxdb-d]:-}" "$server" "${PING[$server]}" ${RAW[$server]} <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["requests_per_s"]
influx = json.load(open(sys.argv[2]))["requests_per_s"] if sys.argv[2] else None
ping = float(sys.argv[4])
a1, o1, a2, o2 = map(float, sys.argv[5:9])
append, over = (a1 + a2) / 2, (o1 + o2) / 2
vs = "" if influx is None or sys.argv[3] == "influxdb" else "; %.2fx InfluxDB 1.x" % (r / influx)
print("- (d) %s: %.0f acks/s = %.0f%% of the 4 KiB-append fdatasync rate (%.0f/s) and %.0f%% of the 4 KiB-overwrite rate (%.0f/s), both averaged over probes just before and after this run%s. `GET /ping` from the same client: %.0f/s, so an ack takes %.0f µs beyond the HTTP round trip (a 4 KiB overwrite sync alone: %.0f µs)." % (
    sys.argv[3], r, 100 * r / append, append, 100 * r / over, over, vs, ping, 1e6 / r - 1e6 / ping, 1e6 / over))
PY
)$'\n'
  done
fi

{
  echo "Date: $(date -u +%Y-%m-%dT%H:%MZ); commit $(git rev-parse --short HEAD); $(nproc) CPUs, $(free -g | awk '/Mem/{print $2}') GiB RAM, $(lscpu | sed -n 's/^Model name: *//p');"
  echo "servers: strata $(target/release/strata --version | cut -d' ' -f2), influxd $(influxd version 2>/dev/null | awk '{print $2}'), victoria-metrics $(dpkg-query -W -f='${Version}' victoria-metrics); raw fdatasync at the start ${FSYNC}/s (4 KiB appends), ${FSYNC_OVER}/s (4 KiB overwrites)."
  echo "Command: \`POINTS=$POINTS HC_POINTS=$HC_POINTS SEQ_POINTS=$SEQ_POINTS E_POINTS=$E_POINTS bash benches/compare.sh\` (load generator and server share the 2 cores)."
  echo
  echo "The disk: sustained fdatasync'd bandwidth ${BW} MB/s in 1.4 MB writes (p50 ${BW_P50} ms, p99 ${BW_P99} ms), measured at the start with \`strata-load --bandwidth-probe\` (it bursts at about 1 GB/s for a second, then throttles)."
  echo
  echo "\"sustained\" counts the time until the server had also finished the work it deferred past its acknowledgements (flushes, merges; until it was idle for 2 s): acknowledging a burst into memory is not a rate a server keeps up. (e) runs at half of (a)'s sustained rate; it sends at that rate for 15 s, and the first 5 s warm the server up and are not measured (latency, throughput and server CPU are from the last 10 s)."
  echo
  echo "Server CPU is counted from the first request until the server has been idle for 2 s after the last (deferred merges and flushes included); Strata runs with \`--flush-interval-ms 1000\` so its Parquet flush falls in that window."
  echo
  echo "Durability when a write is acknowledged — Strata: fdatasync'd WAL (group commit); InfluxDB 1.x: WAL fsync per write (\`wal-fsync-delay = 0s\`); VictoriaMetrics: in memory (flushed to disk about every second)."
  echo
  echo "| scenario | server | points/s acked | sustained | points per server CPU-s | p50 ms | p99 ms | peak RSS MiB | bytes on disk | errors |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for scenario in $SCENARIOS; do
    for server in $SERVERS; do
      python3 - "${RESULT[$server-$scenario]}" "$scenario" "$server" "${DISK[$server-$scenario]}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
names = {"a": "(a) Telegraf-like, batch 5000, 10k series, 4 clients", "b": "(b) = (a) + gzip",
         "c": "(c) 1M series", "d": "(d) 1 line/request, 1 client", "e": "(e) fixed rate, half of (a) sustained"}
cpu = r.get("points_per_server_cpu_s")
# Sustained is a throughput figure; for one sequential client it only measures the wait.
sustained = r.get("sustained_points_per_s") if sys.argv[2] in "abc" else None
print("| %s | %s | %.0f | %s | %s | %.2f | %.2f | %.0f | %s | %s |" % (
    names[sys.argv[2]], sys.argv[3], r["points_per_s"], "%.0f" % sustained if sustained else "—",
    "%.0f" % cpu if cpu else "n/a",
    r["latency_ms"]["p50"], r["latency_ms"]["p99"], r.get("server_peak_rss_mib") or 0,
    format(int(sys.argv[4]), ","), r["errors"] or "none"))
PY
    done
  done
  if [ -n "$DNOTES" ]; then echo; printf '%s' "$DNOTES"; fi
} | tee "$OUT"
