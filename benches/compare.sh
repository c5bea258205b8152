#!/usr/bin/env bash
# Side-by-side write benchmark: Strata (release build), InfluxDB 1.x (Debian `influxdb`) and
# VictoriaMetrics (Debian `victoria-metrics`), one after another on loopback with fresh data dirs,
# the same strata-load scenarios against each. Prints a markdown report (also written to
# $OUT, default benches/compare-latest.md).
#
#   bash benches/compare.sh            # full run (~20 min on 2 cores)
#   POINTS=200000 bash benches/compare.sh   # quicker, smaller
#   SERVERS="strata influxdb" SCENARIOS="a d e" bash benches/compare.sh   # a subset ((e) needs (a))
#   STRATA_ARGS="--max-buffer-bytes 268435456" SERVERS=strata SCENARIOS=a bash benches/compare.sh
#   STRATA_BIN=/tmp/strata-before SERVERS=strata bash benches/compare.sh   # another build
#   QUERY_LOOP=1 SERVERS=strata SCENARIOS="a e" bash benches/compare.sh   # (e) beside queries
set -euo pipefail
cd "$(dirname "$0")/.."
# (a) and (b) must last long enough to include the flushes a sustained load causes: 1 M points
# took Strata 0.4 s, a burst that (e)'s "half of (a)" rate then could not sustain.
POINTS=${POINTS:-5000000}
HC_POINTS=${HC_POINTS:-1000000}
SEQ_POINTS=${SEQ_POINTS:-5000}
E_POINTS=${E_POINTS:-15000000}
OUT=${OUT:-benches/compare-latest.md}
STRATA_BIN=${STRATA_BIN:-target/release/strata}
# Extra `strata serve` flags (word-split).
STRATA_ARGS=${STRATA_ARGS:-}
STRATA_PORT=${STRATA_PORT:-18086}
# Non-empty: during (e), a loop of SQL queries runs against Strata beside the writes.
# E_RATE: (e)'s rate in points/s instead of half of (a)'s sustained rate (to compare runs).
QUERY_LOOP=${QUERY_LOOP:-}
SERVERS=${SERVERS:-strata influxdb victoria-metrics}
SCENARIOS=${SCENARIOS:-a b c d e}
# (d) is short (seconds) and this machine's sync cost and wake-up latency drift by 2-3x within
# minutes: it runs in rounds, the servers one after another in each (a different one first each
# round), and the report gives every round and the median.
D_ROUNDS=${D_ROUNDS:-3}
# (e)'s p99 is decided by a handful of requests in 10 s, and this VM's disk stalls every
# fdatasync on it for 100-470 ms a few times a minute (a probe with no other writer sees them
# too): (e) also runs in rounds, like (d), and the table shows each server's median-p99 round.
E_ROUNDS=${E_ROUNDS:-3}
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
      URL=http://127.0.0.1:$STRATA_PORT; TOKEN=bench
      # A 1 s flush interval puts Strata's Parquet flush inside strata-load's settle window, so
      # its CPU is counted like the other servers' deferred work.
      # shellcheck disable=SC2086 # STRATA_ARGS is a list of flags
      "$STRATA_BIN" serve --http-bind "127.0.0.1:$STRATA_PORT" --data-dir "$dir" --admin-token bench \
        --flush-interval-ms 1000 --log warn $STRATA_ARGS >"$dir.log" 2>&1 &
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
  # Another process on the port answers pings too: make sure ours is the one listening.
  kill -0 "$PID" 2>/dev/null || { log "$name exited at start (port taken?): $(tail -3 "$dir.log")"; exit 1; }
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

declare -A RESULT DISK
for server in $SERVERS; do
  for scenario in $SCENARIOS; do
    [ "$scenario" = d ] || [ "$scenario" = e ] && continue # in rounds, below
    dir="$WORK/$server-$scenario"
    start_server "$server" "$dir"
    case $scenario in
      a) j=$(run a "$server" --series 10000 --batch 5000 --concurrency 4 --points "$POINTS") ;;
      b) j=$(run b "$server" --series 10000 --batch 5000 --concurrency 4 --points "$POINTS" --gzip) ;;
      c) j=$(run c "$server" --series 1000000 --batch 5000 --concurrency 4 --points "$HC_POINTS") ;;
    esac
    RESULT[$server-$scenario]=$j
    DISK[$server-$scenario]=$(stop_server "$PID" "$dir")
  done
done
# Calls `$2 server round` for every server in each of $1 rounds, a different server first in
# each round.
in_rounds() {
  local n=$1 fn=$2 round k servers
  read -r -a servers <<<"$SERVERS"
  for ((round = 0; round < n; round++)); do
    for ((k = 0; k < ${#servers[@]}; k++)); do
      "$fn" "${servers[$(((k + round) % ${#servers[@]}))]}" "$round"
    done
  done
}
# (e): fixed rate, in rounds.
run_e() { # server round -> json of one (e) run
  local server=$1 round=$2 dir="$WORK/$1-e$2" rate pts j
  # Half of what (a) sustained: points over the time until the server had also done the work
  # it deferred past its acknowledgements (a burst absorbed into memory is not a rate a server
  # can keep up).
  rate=${E_RATE:-$(python3 -c "import json;print(int(json.load(open('${RESULT[$server-a]}'))['sustained_points_per_s']/2))")}
  start_server "$server" "$dir"
  # Steady state: a short load that creates the database and schema, then 15 s at that rate
  # of which the first 5 s are sent but not measured (every server's buffers, files, caches
  # and background work reach their running state), then 10 s measured (at most $E_POINTS
  # points in all; bodies are built up front).
  $LOAD --url "$URL" ${TOKEN:+--token "$TOKEN"} --series 10000 --batch 5000 --concurrency 4 --points 100000 >/dev/null 2>&1 || true
  pts=$((rate * 15)); [ "$pts" -gt "$E_POINTS" ] && pts=$E_POINTS
  local qpid=
  if [ -n "$QUERY_LOOP" ] && [ "$server" = strata ]; then
    # Reads beside the writes: one client, back to back, a scan of everything then one host.
    rm -f "$WORK/stop-queries"
    ( end=$((SECONDS + 60)); n=0
      while [ "$SECONDS" -lt "$end" ] && [ ! -e "$WORK/stop-queries" ]; do
        curl -s -o /dev/null -H "Authorization: Token $TOKEN" -G "$URL/api/v3/query_sql" \
          --data-urlencode db=bench --data-urlencode "q=SELECT count(*), max(f0) FROM cpu"
        curl -s -o /dev/null -H "Authorization: Token $TOKEN" -G "$URL/api/v3/query_sql" \
          --data-urlencode db=bench --data-urlencode "q=SELECT max(f1) FROM cpu WHERE host = 'host-7'"
        n=$((n + 2))
      done; echo "$n" >"$WORK/queries-e$round" ) &
    qpid=$!
  fi
  j=$(run e "$server" --series 10000 --batch 5000 --concurrency 4 --rate "$rate" --warmup-s 5 --points "$pts")
  if [ -n "$qpid" ]; then
    touch "$WORK/stop-queries"; wait "$qpid" 2>/dev/null || true
    log "(e) round $round on $server ran beside $(cat "$WORK/queries-e$round" 2>/dev/null || echo '?') queries"
  fi
  mv "$j" "$WORK/e$round-$server.json"
  DISK[$server-e$round]=$(stop_server "$PID" "$dir")
}
ENOTES=""
if [[ " $SCENARIOS " == *" e "* ]]; then
  in_rounds "$E_ROUNDS" run_e
  for server in $SERVERS; do
    runs=(); for ((round = 0; round < E_ROUNDS; round++)); do runs+=("$WORK/e$round-$server.json"); done
    read -r median note < <(python3 - "$server" "${runs[@]}" <<'PY'
import json, sys
server, files = sys.argv[1], sys.argv[2:]
runs = [json.load(open(f)) for f in files]
order = sorted(range(len(runs)), key=lambda i: runs[i]["latency_ms"]["p99"])
m = order[len(order) // 2]
rounds = "; ".join("%.0f points/s, p50 %.2f, p99 %.2f, max %.2f ms" % (
    r["points_per_s"], r["latency_ms"]["p50"], r["latency_ms"]["p99"], r["latency_ms"]["max"]) for r in runs)
print(m, "- (e) %s, median-p99 round of %d: p99 %.2f ms. Rounds: %s." % (
    server, len(runs), runs[m]["latency_ms"]["p99"], rounds))
PY
)
    RESULT[$server-e]="$WORK/e$median-$server.json"
    DISK[$server-e]=${DISK[$server-e$median]}
    ENOTES+="$note"$'\n'
  done
fi
# (d): one sequential client, one line per request, in rounds. Each run is framed by raw sync
# probes (the rate it is held to) and followed by `GET /ping` from the same client (the HTTP
# round trip every ack pays). Each run is saved as "json append1 over1 append2 over2 ping".
declare -A DRUN
run_d() { # server round
  local server=$1 round=$2 dir="$WORK/$1-d$2" before after j ping
  start_server "$server" "$dir"
  before=$($LOAD --fsync-probe "$WORK")
  j=$(run "d" "$server" --series 100 --batch 1 --concurrency 1 --points "$SEQ_POINTS")
  after=$($LOAD --fsync-probe "$WORK")
  mv "$j" "$WORK/d$round-$server.json"
  $LOAD --url "$URL" --ping --batch 1 --concurrency 1 --points "$SEQ_POINTS" --json "$WORK/ping$round-$server.json" >/dev/null 2>&1
  ping=$(python3 -c "import json;print(json.load(open('$WORK/ping$round-$server.json'))['requests_per_s'])")
  DRUN[$server-$round]="$WORK/d$round-$server.json $before $after $ping"
  DISK[$server-d$round]=$(stop_server "$PID" "$dir")
}
DNOTES=""
if [[ " $SCENARIOS " == *" d "* ]]; then
  in_rounds "$D_ROUNDS" run_d
  # The table shows each server's median round.
  for server in $SERVERS; do
    runs=(); for ((round = 0; round < D_ROUNDS; round++)); do runs+=("${DRUN[$server-$round]}"); done
    median=$(python3 - "${runs[@]}" <<'PY'
import json, sys
runs = sorted(range(len(sys.argv) - 1), key=lambda i: json.load(open(sys.argv[1 + i].split()[0]))["requests_per_s"])
print(runs[len(runs) // 2])
PY
)
    RESULT[$server-d]=$(echo "${DRUN[$server-$median]}" | cut -d' ' -f1)
    DISK[$server-d]=${DISK[$server-d$median]}
    args=()
    for ((round = 0; round < D_ROUNDS; round++)); do
      args+=("${DRUN[$server-$round]}" "${DRUN[influxdb-$round]:-}")
    done
    DNOTES+=$(python3 - "$server" "${args[@]}" <<'PY'
import json, statistics, sys
server, pairs = sys.argv[1], sys.argv[2:]
rounds = []
for own, influx in zip(pairs[0::2], pairs[1::2]):
    f = own.split()
    r = json.load(open(f[0]))["requests_per_s"]
    a1, o1, a2, o2, ping = map(float, f[1:6])
    append, over = (a1 + a2) / 2, (o1 + o2) / 2
    vs = None
    if influx and server != "influxdb":
        vs = r / json.load(open(influx.split()[0]))["requests_per_s"]
    rounds.append(dict(r=r, append=append, over=over, ping=ping, vs=vs))
def fmt(d):
    s = "%.0f acks/s = %.0f%% of append (%.0f/s), %.0f%% of overwrite (%.0f/s)" % (
        d["r"], 100 * d["r"] / d["append"], d["append"], 100 * d["r"] / d["over"], d["over"])
    if d["vs"] is not None:
        s += ", %.2fx InfluxDB" % d["vs"]
    return s + ", ack %.0f µs beyond `GET /ping` (%.0f/s)" % (1e6 / d["r"] - 1e6 / d["ping"], d["ping"])
med = lambda key: statistics.median(d[key] for d in rounds)
line = "- (d) %s, median of %d rounds: %.0f acks/s, %.0f%% of the 4 KiB-append fdatasync rate and %.0f%% of the 4 KiB-overwrite rate (each round against the probes just before and after it)" % (
    server, len(rounds), med("r"), 100 * statistics.median(d["r"] / d["append"] for d in rounds),
    100 * statistics.median(d["r"] / d["over"] for d in rounds))
if rounds[0]["vs"] is not None:
    line += ", %.2fx InfluxDB 1.x (same round)" % med("vs")
print(line + ". Rounds: " + "; ".join(fmt(d) for d in rounds) + ".")
PY
)$'\n'
  done
fi

{
  echo "Date: $(date -u +%Y-%m-%dT%H:%MZ); commit $(git rev-parse --short HEAD); $(nproc) CPUs, $(free -g | awk '/Mem/{print $2}') GiB RAM, $(lscpu | sed -n 's/^Model name: *//p');"
  echo "servers: strata $(target/release/strata --version | cut -d' ' -f2), influxd $(influxd version 2>/dev/null | awk '{print $2}'), victoria-metrics $(dpkg-query -W -f='${Version}' victoria-metrics); raw fdatasync at the start ${FSYNC}/s (4 KiB appends), ${FSYNC_OVER}/s (4 KiB overwrites)."
  echo "Command: \`POINTS=$POINTS HC_POINTS=$HC_POINTS SEQ_POINTS=$SEQ_POINTS E_POINTS=$E_POINTS D_ROUNDS=$D_ROUNDS E_ROUNDS=$E_ROUNDS bash benches/compare.sh\` (load generator and server share the 2 cores)."
  echo
  echo "The disk: sustained fdatasync'd bandwidth ${BW} MB/s in 1.4 MB writes (p50 ${BW_P50} ms, p99 ${BW_P99} ms), measured at the start with \`strata-load --bandwidth-probe\` (it bursts at about 1 GB/s for a second, then throttles)."
  echo
  echo "\"sustained\" counts the time until the server had also finished the work it deferred past its acknowledgements (flushes, merges; until it was idle for 2 s): acknowledging a burst into memory is not a rate a server keeps up. (e) runs at half of (a)'s sustained rate; it sends at that rate for 15 s, and the first 5 s warm the server up and are not measured (latency, throughput and server CPU are from the last 10 s). It runs in $E_ROUNDS rounds, the servers one after another in each with a different one first; the table shows each server's round with the median p99 and the notes list every round."
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
         "c": "(c) 1M series", "d": "(d) 1 line/request, 1 client", "e": "(e) fixed rate, half of (a) sustained (median-p99 round)"}
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
  if [ -n "$DNOTES$ENOTES" ]; then echo; printf '%s' "$DNOTES$ENOTES"; fi
} | tee "$OUT"
