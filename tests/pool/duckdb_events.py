#!/usr/bin/env python3
"""Reads a fixloop.events/1 Parquet file with DuckDB and writes its events as JSON lines
in the interchange format (SPEC 3.1), so a test can compare them with the originals.

    python3 duckdb_events.py EVENTS.parquet OUT.jsonl
"""
import datetime
import json
import sys

import duckdb

src, dst = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
schema = con.execute(
    "SELECT value FROM parquet_kv_metadata(?) WHERE key = 'fixloop.schema'", [src]
).fetchall()
if not schema or schema[0][0].decode() != "fixloop.events/1":
    sys.exit(f"{src}: not fixloop.events/1: {schema}")
cur = con.execute(
    "SELECT *, epoch_us(timestamp) AS timestamp_us FROM read_parquet(?)", [src]
)
cols = [d[0] for d in cur.description]
epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
with open(dst, "w") as out:
    for row in cur.fetchall():
        r = dict(zip(cols, row))
        us = r.pop("timestamp_us")
        r.pop("producer_id")
        # Integer microseconds: no float on the way.
        t = epoch + datetime.timedelta(microseconds=us)
        r["timestamp"] = t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        r["ab"] = {a["test_id"]: a["arm"] for a in r["ab"]}
        out.write(json.dumps(r, ensure_ascii=False) + "\n")
