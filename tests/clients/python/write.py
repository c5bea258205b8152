"""Drives influxdb-python (PyPI `influxdb`) the way applications do: ping, create_database,
create_retention_policy, write_points with batch_size / time_precision / retention_policy, a
line-protocol write, all with gzip=True and the token as password; then reads it back with
query (default msgpack Accept, epoch, chunked) and get_list_series. Exits non-zero on any error.
Usage: python3 write.py HOST PORT TOKEN DATABASE
"""
import sys
import time

from influxdb import InfluxDBClient
from influxdb.exceptions import InfluxDBClientError

host, port, token, db = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
client = InfluxDBClient(host=host, port=port, username="ignored", password=token, database=db, gzip=True)

assert client.ping(), "ping returned no version"
client.create_database(db)
assert {"name": db} in client.get_list_database(), client.get_list_database()
client.create_retention_policy("week", "7d", 1, database=db, default=False)
rps = {rp["name"]: rp for rp in client.get_list_retention_policies(db)}
assert rps["week"]["duration"] == "168h0m0s", rps

# Within the 7-day retention policy: an hour ago, on a whole minute.
base = int(time.time()) // 60 * 60 - 3600
points = [
    {
        "measurement": "py_cpu",
        "tags": {"host": "h%d" % (i % 3)},
        "time": base + i,
        "fields": {"usage": i * 0.5, "count": i, "ok": i % 2 == 0, "label": "n%d" % i},
    }
    for i in range(25)
]
assert client.write_points(points, time_precision="s", batch_size=10, retention_policy="week")
assert client.write_points(["py_line,host=x v=1i 1700000000000"], protocol="line", time_precision="ms")

try:
    client.write_points(["py_line,host=x v=1.5 1700000000001"], protocol="line", time_precision="ms")
except InfluxDBClientError as e:
    assert e.code == 400 and "field type conflict" in str(e.content), e
else:
    raise AssertionError("a type conflict was not reported")

# Read back: the default Accept (msgpack, answered as JSON), epoch, chunked, the series list.
result = client.query("SELECT usage, host FROM \"week\".\"py_cpu\" WHERE host = 'h1'", database=db)
rows = list(result.get_points())
assert len(rows) == 8 and rows[0]["usage"] == 0.5 and rows[0]["host"] == "h1", rows
result = client.query("SELECT count(usage) FROM \"week\".\"py_cpu\" GROUP BY host", database=db, epoch="s")
counts = {tags["host"]: list(points)[0]["count"] for (_, tags), points in result.items()}
assert counts == {"h0": 9, "h1": 8, "h2": 8}, counts
result = client.query('SELECT usage FROM "week"."py_cpu"', database=db, epoch="s", chunked=True, chunk_size=10)
times = [p["time"] for chunk in result for p in chunk.get_points()]
assert len(times) == 25 and times[0] == base, times[:3]
series = client.get_list_series(database=db)
assert "py_line,host=x" in series, series
print("ok", base)
