#!/usr/bin/env python3
"""The pandas equivalent of fixloop's `summary` over the 1M-line JSONL file that
`cargo bench --bench learn` writes (target/learn-bench-1m.jsonl), timed, and the ratio
to fixloop's `learn_1m_jsonl/read_and_summary` time from criterion's estimates.

Usage: python3 benches/learn_pandas.py [FILE.jsonl]
Skips (exit 0) when pandas is not installed or the file does not exist.
"""
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "learn-bench-1m.jsonl")
try:
    import pandas as pd
except ImportError:
    print("pandas is not installed; skipping")
    sys.exit(0)
if not os.path.exists(path):
    print(f"{path} does not exist; run `cargo bench --bench learn` first")
    sys.exit(0)

t0 = time.perf_counter()
df = pd.read_json(path, lines=True)
t1 = time.perf_counter()

# SPEC §4.1, the seed's formulas.
accept = df["user_action"] == "accept"
undone = df["was_undone"].astype(bool)
by_type = df.assign(accept=accept, undone=undone).groupby("fix_type").agg(
    samples=("event_id", "size"),
    accept_rate=("accept", "mean"),
    undo_rate=("undone", "mean"),
    avg_improvement=("improvement_ratio", "mean"),
)
by_type["avg_improvement"] = by_type["avg_improvement"].fillna(0.0)
by_type["effectiveness"] = (
    0.4 * by_type["accept_rate"] + 0.4 * by_type["avg_improvement"] + 0.2 * (1 - by_type["undo_rate"])
)
score = pd.Series(0.5, index=df.index)
score[undone] = -0.5
score[df["user_action"] == "reject"] = 0.0
score[accept] = 1.0
ratio = df["improvement_ratio"]
score = score.where(ratio.isna(), (score + ratio) / 2)
by_feature = score.groupby(df["feature_name"]).agg(["size", "mean"])
by_feature["factor"] = 0.5 + (by_feature["mean"] - 0.5) * 0.5
total = len(df)
accept_rate = accept.mean()
t2 = time.perf_counter()

print(f"pandas: read {t1 - t0:.2f} s, summary {t2 - t1:.3f} s, total {t2 - t0:.2f} s "
      f"({total} events, accept rate {accept_rate:.4f})")
print(by_type.round(4).to_string())

est = os.path.join(ROOT, "target", "criterion", "learn_1m_jsonl", "read_and_summary", "new", "estimates.json")
if os.path.exists(est):
    with open(est) as f:
        fixloop_s = json.load(f)["mean"]["point_estimate"] / 1e9
    print(f"fixloop read+summary: {fixloop_s:.2f} s; pandas/fixloop = {(t2 - t0) / fixloop_s:.2f}")
else:
    print("no criterion estimate for fixloop yet; run `cargo bench --bench learn`")
