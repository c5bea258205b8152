"""DuckDB over Strata's Parquet files: the reference side of the SQL differential test.

Reads {"tables": {name: [file, ...]}, "queries": [sql, ...]} on stdin and prints, for each
query, its rows as a list of objects keyed by column name.
"""
import json
import sys

import duckdb


def plain(v):
    # Sums come back as HUGEINT/Decimal; everything numeric is compared as a number.
    if isinstance(v, (bool, str)) or v is None:
        return v
    if isinstance(v, (int, float)):
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


def main():
    spec = json.load(sys.stdin)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name, files in spec["tables"].items():
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet([{listed}])')
    out = []
    for q in spec["queries"]:
        cur = con.execute(q)
        names = [d[0] for d in cur.description]
        out.append([dict(zip(names, map(plain, row))) for row in cur.fetchall()])
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
