#!/usr/bin/env python3
"""Runs fixloop's pooled SQL (the *.sql files beside this script) over fixloop.events/1
Parquet exports, on DuckDB or on Spark in local mode.

    python3 sql/pool.py --engine duckdb --out OUT producer1.parquet producer2.parquet ...
    python3 sql/pool.py --engine spark  --out OUT 'exports/*.parquet'

Writes OUT/summary.json (the fields of `fixloop summary --json`: totals, by_fix_type,
by_feature) and the per-session A/B table OUT/ab_sessions.parquet (DuckDB: one file;
Spark: a directory of part files), which `fixloop ab status --sessions` reads.
On a cluster, register the exports as the view `events` and run the same files.
"""

import argparse
import glob
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = "fixloop.events/1"


def query(name):
    with open(os.path.join(HERE, name)) as f:
        return f.read().strip().rstrip(";")


def summary_json(totals, by_type, by_feature):
    t = totals[0]
    return {
        "total": t["total"],
        "accept_rate": t["accept_rate"] if t["total"] else 0.0,
        "undo_rate": t["undo_rate"] if t["total"] else 0.0,
        "avg_improvement": t["avg_improvement"] if t["total"] else 0.0,
        "by_fix_type": {r.pop("fix_type"): r for r in by_type},
        "by_feature": {r.pop("feature_name"): r for r in by_feature},
    }


def run_duckdb(files, out):
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for f in files:
        meta = con.execute(
            "SELECT value FROM parquet_kv_metadata(?) WHERE key = 'fixloop.schema'", [f]
        ).fetchall()
        found = meta[0][0].decode() if meta else None
        if found != SCHEMA:
            sys.exit(f"{f}: schema {found!r}, expected {SCHEMA!r}")
    con.read_parquet(files).create_view("events")
    # Spark's `explode` under DuckDB's name for it: the .sql files stay one dialect.
    con.execute("CREATE MACRO explode(l) AS unnest(l)")

    def rows(name):
        cur = con.execute(query(name))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    summary = summary_json(
        rows("summary_totals.sql"),
        rows("summary_by_fix_type.sql"),
        rows("summary_by_feature.sql"),
    )
    target = os.path.join(out, "ab_sessions.parquet")
    quoted = target.replace("'", "''")
    con.execute(f"COPY ({query('ab_sessions.sql')}) TO '{quoted}' (FORMAT parquet)")
    return summary


def run_spark(files, out):
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("fixloop-pool")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.read.parquet(*files).createOrReplaceTempView("events")

    def rows(name):
        return [r.asDict() for r in spark.sql(query(name)).collect()]

    summary = summary_json(
        rows("summary_totals.sql"),
        rows("summary_by_fix_type.sql"),
        rows("summary_by_feature.sql"),
    )
    target = os.path.join(out, "ab_sessions.parquet")
    spark.sql(query("ab_sessions.sql")).write.mode("overwrite").parquet(target)
    spark.stop()
    return summary


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--engine", choices=["duckdb", "spark"], required=True)
    p.add_argument("--out", required=True, help="directory for summary.json and ab_sessions.parquet")
    p.add_argument("files", nargs="+", help="fixloop.events/1 Parquet files (globs allowed)")
    a = p.parse_args()
    files = sorted(f for pattern in a.files for f in (glob.glob(pattern) or [pattern]))
    os.makedirs(a.out, exist_ok=True)
    start = time.monotonic()
    summary = (run_duckdb if a.engine == "duckdb" else run_spark)(files, a.out)
    summary["engine"] = a.engine
    summary["seconds"] = time.monotonic() - start
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
    print(f"{a.engine}: {len(files)} files, {summary['total']} events, {summary['seconds']:.2f} s")


if __name__ == "__main__":
    main()
