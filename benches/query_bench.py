"""The read benchmark's driver (run by benches/query-compare.sh).

`load URL`: writes TSBS cpu-only data (HOSTS hosts x 10 fields every 10 s for HOURS hours, the
10 TSBS tags) to Strata's /write.
`query URL FILES_JSON`: runs the TSBS query types in SQL on Strata's /api/v3/query_sql and on
DuckDB (in-process) over the same Parquet files, ROUNDS times each, alternating, and prints a
markdown table of median latencies and their ratio.
"""
import http.client
import json
import os
import random
import statistics
import sys
import time
import urllib.parse
import urllib.request

HOSTS = int(os.environ.get("HOSTS", "100"))
HOURS = int(os.environ.get("HOURS", "24"))
ROUNDS = int(os.environ.get("ROUNDS", "15"))
START = 1_704_067_200  # 2024-01-01T00:00:00Z
FIELDS = ["usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
          "usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"]
TOKEN = os.environ.get("TOKEN", "bench")


def tags(h):
    r = random.Random(h)
    return ",".join([
        f"hostname=host_{h}",
        f"region={r.choice(['us-east-1', 'us-west-1', 'eu-west-1', 'ap-southeast-1'])}",
        f"datacenter=dc{r.randrange(3)}",
        f"rack={r.randrange(100)}",
        f"os=Ubuntu{r.choice(['16.04LTS', '18.04LTS'])}",
        f"arch={r.choice(['x64', 'x86'])}",
        f"team={r.choice(['SF', 'NYC', 'LON', 'CHI'])}",
        f"service={r.randrange(20)}",
        f"service_version={r.randrange(2)}",
        f"service_environment={r.choice(['production', 'staging', 'test'])}",
    ])


def post(url, path, body, content_type="text/plain"):
    req = urllib.request.Request(url + path, data=body, method="POST")
    req.add_header("Authorization", f"Token {TOKEN}")
    req.add_header("Content-Type", content_type)
    with urllib.request.urlopen(req, timeout=120) as resp:
        return resp.read()


def load(url):
    rng = random.Random(7)
    prefix = [f"cpu,{tags(h)} " for h in range(HOSTS)]
    lines = []
    steps = HOURS * 360
    sent = 0
    for s in range(steps):
        t = START + s * 10
        for h in range(HOSTS):
            fields = ",".join(f"{f}={rng.random() * 100:.2f}" for f in FIELDS)
            lines.append(f"{prefix[h]}{fields} {t}")
        if len(lines) >= 20_000 or s == steps - 1:
            post(url, "/write?db=tsbs&precision=s", ("\n".join(lines) + "\n").encode())
            sent += len(lines)
            lines = []
        if s % 1800 == 0:
            print(f"[query-bench] loaded {sent} rows", file=sys.stderr)
    print(f"[query-bench] loaded {sent} rows", file=sys.stderr)


def queries():
    """(name, Strata SQL, DuckDB SQL): TSBS's query types, fixed hosts and windows."""
    end = START + HOURS * 3600
    ts = lambda s: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s))
    one = "'host_7'"
    eight = ", ".join(f"'host_{h}'" for h in (1, 9, 17, 23, 42, 55, 68, 91))
    t1, t8, t12 = end - 3 * 3600, end - 9 * 3600, end - 13 * 3600
    max_all = ", ".join(f"max({f}) AS {f}" for f in FIELDS)
    five = ", ".join(f"max({f}) AS {f}" for f in FIELDS[:5])

    def both(sql):
        return (sql.format(bin="date_bin(INTERVAL '{}', time, TIMESTAMP '1970-01-01T00:00:00Z')"),
                sql.format(bin="time_bucket(INTERVAL '{}', time)"))

    out = []
    def add(name, sql):
        s, d = both(sql)
        out.append((name, s, d))
    add("single-groupby-1-1-1",
        f"SELECT {{bin}} AS minute, max(usage_user) AS m FROM cpu WHERE hostname = {one} "
        f"AND time >= '{ts(t1)}' AND time < '{ts(t1 + 3600)}' GROUP BY 1 ORDER BY 1")
    add("single-groupby-5-1-12",
        f"SELECT {{bin}} AS minute, {five} FROM cpu WHERE hostname = {one} "
        f"AND time >= '{ts(t12)}' AND time < '{ts(t12 + 12 * 3600)}' GROUP BY 1 ORDER BY 1")
    add("cpu-max-all-8",
        f"SELECT {{bin}} AS hour, {max_all} FROM cpu WHERE hostname IN ({eight}) "
        f"AND time >= '{ts(t8)}' AND time < '{ts(t8 + 8 * 3600)}' GROUP BY 1 ORDER BY 1")
    add("double-groupby-1",
        f"SELECT {{bin}} AS hour, hostname, avg(usage_user) AS m FROM cpu "
        f"WHERE time >= '{ts(t12)}' AND time < '{ts(t12 + 12 * 3600)}' GROUP BY 1, 2 ORDER BY 1, 2")
    add("high-cpu-1",
        f"SELECT * FROM cpu WHERE usage_user > 90.0 AND hostname = {one} "
        f"AND time >= '{ts(t12)}' AND time < '{ts(t12 + 12 * 3600)}'")
    # The per-host maximum first: DataFusion builds a hash join on its left input when it has
    # no estimate of the aggregate's output (written the other way round it builds on all rows).
    add("lastpoint",
        "SELECT c.* FROM (SELECT hostname, max(time) AS t FROM cpu GROUP BY hostname) l "
        "JOIN cpu c ON c.hostname = l.hostname AND c.time = l.t")
    add("groupby-orderby-limit",
        f"SELECT {{bin}} AS minute, max(usage_user) AS m FROM cpu WHERE time < '{ts(end - 3600)}' "
        "GROUP BY 1 ORDER BY 1 DESC LIMIT 5")
    # The bin width per query type.
    widths = {"single-groupby-1-1-1": "1 minute", "single-groupby-5-1-12": "1 minute",
              "cpu-max-all-8": "1 hour", "double-groupby-1": "1 hour",
              "groupby-orderby-limit": "1 minute"}
    return [(n, s.replace("'{}'", f"'{widths.get(n, '1 minute')}'"),
             d.replace("'{}'", f"'{widths.get(n, '1 minute')}'")) for n, s, d in out]


_conn = None


def strata(url, sql):
    """Rows of `sql` on Strata over one kept-alive connection (as a dashboard's client holds)."""
    global _conn
    if _conn is None:
        u = urllib.parse.urlparse(url)
        _conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    q = urllib.parse.urlencode({"db": "tsbs", "q": sql, "format": "json"})
    _conn.request("GET", f"/api/v3/query_sql?{q}", headers={"Authorization": f"Token {TOKEN}"})
    resp = _conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"{resp.status}: {body[:300]!r}")
    return len(json.loads(body))


def query(url, files_json):
    import duckdb
    files = json.load(open(files_json))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET threads = 2")
    listed = ", ".join(f"'{f}'" for f in files)
    con.execute(f"CREATE VIEW cpu AS SELECT * FROM read_parquet([{listed}])")
    print("| query type | Strata median ms | DuckDB median ms | Strata / DuckDB | rows |")
    print("|---|---|---|---|---|")
    for name, s_sql, d_sql in queries():
        s_times, d_times = [], []
        s_rows = strata(url, s_sql)  # warm: footers, page cache
        d_rows = len(con.execute(d_sql).fetchall())
        if s_rows != d_rows:
            print(f"[query-bench] {name}: Strata {s_rows} rows, DuckDB {d_rows}", file=sys.stderr)
        for _ in range(ROUNDS):
            t = time.perf_counter()
            strata(url, s_sql)
            s_times.append((time.perf_counter() - t) * 1e3)
            t = time.perf_counter()
            con.execute(d_sql).fetchall()
            d_times.append((time.perf_counter() - t) * 1e3)
        s, d = statistics.median(s_times), statistics.median(d_times)
        print(f"| {name} | {s:.1f} | {d:.1f} | {s / d:.2f} | {s_rows} |", flush=True)
        print(f"[query-bench] {name}: {s:.1f} ms vs {d:.1f} ms", file=sys.stderr)


if __name__ == "__main__":
    {"load": lambda: load(sys.argv[2]), "query": lambda: query(sys.argv[2], sys.argv[3])}[sys.argv[1]]()
