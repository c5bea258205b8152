"""The InfluxQL read benchmark's driver (run by benches/influxql-compare.sh).

`load URL [TOKEN]`: writes the TSBS cpu-only data of query_bench.py to a server's /write.
`query STRATA_URL INFLUX_URL`: runs the TSBS query types in InfluxQL on both servers' /query,
ROUNDS times each, alternating, and prints a markdown table of median latencies and their ratio.
"""
import http.client
import json
import os
import statistics
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import query_bench as qb  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "15"))


def queries():
    """(name, InfluxQL): TSBS's query types as its InfluxDB client writes them."""
    end = qb.START + qb.HOURS * 3600
    ts = lambda s: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s))
    t1, t8, t12 = end - 3 * 3600, end - 9 * 3600, end - 13 * 3600
    eight = " OR ".join(f"hostname = 'host_{h}'" for h in (1, 9, 17, 23, 42, 55, 68, 91))
    max_all = ", ".join(f"max({f})" for f in qb.FIELDS)
    five = ", ".join(f"max({f})" for f in qb.FIELDS[:5])
    span = lambda a, hours: f"time >= '{ts(a)}' AND time < '{ts(a + hours * 3600)}'"
    return [
        ("single-groupby-1-1-1",
         f"SELECT max(usage_user) FROM cpu WHERE hostname = 'host_7' AND {span(t1, 1)} GROUP BY time(1m)"),
        ("single-groupby-5-1-12",
         f"SELECT {five} FROM cpu WHERE hostname = 'host_7' AND {span(t12, 12)} GROUP BY time(1m)"),
        ("cpu-max-all-8",
         f"SELECT {max_all} FROM cpu WHERE ({eight}) AND {span(t8, 8)} GROUP BY time(1h)"),
        ("double-groupby-1",
         f"SELECT mean(usage_user) FROM cpu WHERE {span(t12, 12)} GROUP BY time(1h), hostname"),
        ("high-cpu-1",
         f"SELECT * FROM cpu WHERE usage_user > 90.0 AND hostname = 'host_7' AND {span(t12, 12)}"),
        ("lastpoint", 'SELECT last(*) FROM "cpu" GROUP BY "hostname"'),
        ("groupby-orderby-limit",
         f"SELECT max(usage_user) FROM cpu WHERE time < '{ts(end - 3600)}' GROUP BY time(1m) ORDER BY time DESC LIMIT 5"),
        ("show-tag-values-hostname", 'SHOW TAG VALUES FROM "cpu" WITH KEY = "hostname"'),
        ("show-measurements", "SHOW MEASUREMENTS"),
    ]


class Client:
    """One kept-alive connection, as a dashboard's client holds."""

    def __init__(self, url, token):
        u = urllib.parse.urlparse(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
        self.headers = {"Authorization": f"Token {token}"} if token else {}

    def rows(self, q):
        params = urllib.parse.urlencode({"db": "tsbs", "q": q, "epoch": "ns"})
        self.conn.request("GET", f"/query?{params}", headers=self.headers)
        resp = self.conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{resp.status}: {body[:300]!r}")
        doc = json.loads(body)
        result = doc["results"][0]
        if "error" in result:
            raise RuntimeError(f"{q}: {result['error']}")
        return sum(len(s.get("values", [])) for s in result.get("series", []))


def query(strata_url, influx_url):
    strata = Client(strata_url, qb.TOKEN)
    influx = Client(influx_url, None)
    print("| query type | Strata median ms | InfluxDB 1.x median ms | Strata / 1.x | rows |")
    print("|---|---|---|---|---|")
    for name, q in queries():
        s_rows, i_rows = strata.rows(q), influx.rows(q)  # warm: caches, footers
        if s_rows != i_rows:
            print(f"[influxql-bench] {name}: Strata {s_rows} rows, InfluxDB {i_rows}", file=sys.stderr)
        s_times, i_times = [], []
        for _ in range(ROUNDS):
            t = time.perf_counter()
            strata.rows(q)
            s_times.append((time.perf_counter() - t) * 1e3)
            t = time.perf_counter()
            influx.rows(q)
            i_times.append((time.perf_counter() - t) * 1e3)
        s, i = statistics.median(s_times), statistics.median(i_times)
        print(f"| {name} | {s:.1f} | {i:.1f} | {s / i:.2f} | {s_rows} |", flush=True)
        print(f"[influxql-bench] {name}: {s:.1f} ms vs {i:.1f} ms", file=sys.stderr)


def load(url, token):
    qb.TOKEN = token or ""
    qb.load(url)


if __name__ == "__main__":
    {
        "load": lambda: load(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None),
        "query": lambda: query(sys.argv[2], sys.argv[3]),
    }[sys.argv[1]]()
