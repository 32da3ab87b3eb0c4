#!/usr/bin/env python3
"""Writes the example trance profile and work-in-progress features (standard library only).

The per-track values are synthetic: for each feature a normal distribution whose mean and
spread were chosen to resemble mastered trance and other club music (integrated loudness
around -8 LUFS, true peak just under 0 dBTP, low end carrying most of the energy, a narrow
low end, audible side-chain pumping). They are not measurements of real tracks; build a
profile from your own references with `fixloop profile build`. Statistics follow
fixloop.profile/1: sample std (n - 1), numpy-style linear percentiles, acceptable range
mean +/- std clipped to [min, max].

Run from the repository root: python3 examples/data/generate.py
"""
import json
import random
import statistics

TRACKS = 40
# feature: (mean, std, lower bound, upper bound, decimals)
MODEL = {
    "loudness": (-7.8, 1.0, -12.0, -5.0, 2),
    "loudness_range": (5.5, 1.5, 2.0, 12.0, 2),
    "true_peak": (-0.4, 0.35, -2.0, 0.8, 2),
    "sub_level": (-5.6, 1.3, -10.0, -2.5, 2),
    "bass_level": (-3.4, 1.0, -7.0, -1.5, 2),
    "low_mid_level": (-11.5, 1.6, -16.0, -7.0, 2),
    "mid_level": (-12.8, 1.5, -17.0, -8.0, 2),
    "high_mid_level": (-18.2, 1.8, -24.0, -13.0, 2),
    "high_level": (-23.8, 2.0, -30.0, -18.0, 2),
    "air_level": (-30.5, 2.4, -38.0, -24.0, 2),
    "spectral_centroid": (1150.0, 240.0, 600.0, 2200.0, 1),
    "stereo_width": (0.46, 0.11, 0.15, 0.9, 3),
    "low_end_width": (0.06, 0.035, 0.0, 0.2, 3),
    "modulation_depth": (7.4, 2.0, 2.0, 14.0, 2),
}


def percentile(sorted_values, q):
    rank = q / 100 * (len(sorted_values) - 1)
    lo = int(rank)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (rank - lo)


def stats(samples, decimals):
    s = sorted(samples)
    mean = statistics.fmean(samples)
    std = statistics.stdev(samples)
    r = lambda v: round(v, decimals + 2)
    return {
        "count": len(samples), "mean": r(mean), "std": r(std), "min": s[0], "max": s[-1],
        "p10": r(percentile(s, 10)), "p25": r(percentile(s, 25)), "p50": r(percentile(s, 50)),
        "p75": r(percentile(s, 75)), "p90": r(percentile(s, 90)),
        "acceptable_range": [r(max(mean - std, s[0])), r(min(mean + std, s[-1]))],
        "weight": 1.0,
        "samples": samples,
    }


def main():
    rng = random.Random(20261128)
    tracks = []
    for _ in range(TRACKS):
        t = {}
        for name, (mean, std, lo, hi, dec) in MODEL.items():
            t[name] = round(min(hi, max(lo, rng.gauss(mean, std))), dec)
        # Derived features stay consistent per track.
        t["plr"] = round(t["true_peak"] - t["loudness"], 2)
        # Correlation of a mid/side pair with uncorrelated M and S: (1 - w^2) / (1 + w^2).
        w = t["stereo_width"]
        t["stereo_correlation"] = round((1 - w * w) / (1 + w * w) - abs(rng.gauss(0, 0.03)), 3)
        tracks.append(t)
    names = list(MODEL) + ["plr", "stereo_correlation"]
    decimals = {n: MODEL.get(n, (0, 0, 0, 0, 3))[4] for n in names}
    features = {n: stats([t[n] for t in tracks], decimals[n]) for n in sorted(names)}
    # The spectral features overlap (bands and centroid); weigh the centroid lower.
    features["spectral_centroid"]["weight"] = 0.5
    profile = {
        "schema": "fixloop.profile/1",
        "name": "trance",
        "version": "trance_v1",
        "track_count": TRACKS,
        "features": features,
        "fix_confidence": {
            "volume_adjust": 0.85, "eq_band_cut": 0.78, "eq_band_boost": 0.72,
            "compression": 0.68, "width_adjust": 0.74, "modulation_adjust": 0.62,
        },
    }
    with open("assets/trance_profile.json", "w") as f:
        json.dump(profile, f, indent=2)
        f.write("\n")
    # A work-in-progress mix: quiet, bass-heavy, dull, wide low end, little pumping.
    wip = {
        "track": "wip_anthem_v3.wav",
        "features": {
            "loudness": -10.9, "loudness_range": 7.9, "true_peak": -1.6, "plr": 9.3,
            "sub_level": -4.1, "bass_level": -1.9, "low_mid_level": -11.0,
            "mid_level": -13.4, "high_mid_level": -20.9, "high_level": -26.7,
            "air_level": -33.9, "spectral_centroid": 780.0, "stereo_width": 0.52,
            "stereo_correlation": 0.58, "low_end_width": 0.19, "modulation_depth": 4.1,
        },
    }
    with open("examples/data/wip_features.json", "w") as f:
        json.dump(wip, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
