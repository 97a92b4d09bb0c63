"""The drift statistics the way Evidently computes them: column by column, one SciPy/NumPy call per statistic, here per
asset x feature (Evidently's per-segment drift), on the data `drift-scan --generate` wrote. Each cell gets PSI (NumPy),
Jensen-Shannon (scipy.spatial.distance.jensenshannon), Wasserstein-1 (scipy.stats.wasserstein_distance) and the
two-sample chi-square test (scipy.stats.chi2_contingency), then Benjamini-Hochberg per asset: the same functions the
C# statistics are tested against (tests/fixtures/statistics/scipy_reference.py).

usage: drift_job.py DIR [--assets N]   (N assets of DIR's data, from the first; the time is projected to all of them)
It also compares its answers with the C# scan's (DIR/scan.f64) on the assets it computed.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "statistics"))
from scipy_reference import bh_reject, drift_statistics  # noqa: E402


def centers(feature):
    # float32 as the C# reference holds them, then widened: the same doubles FeatureReference.Center adds.
    edges = [float(np.float32(e)) for e in feature["edges"]]
    low = [float(np.float32(feature["min"]))] + edges
    high = edges + [float(np.float32(feature["max"]))]
    return np.asarray([(lo + hi) / 2 for lo, hi in zip(low, high)])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("--assets", type=int, default=250)
    args = parser.parse_args()
    with open(os.path.join(args.data, "profile.json"), encoding="utf-8") as f:
        profile = json.load(f)
    features = profile["features"]
    bins = [len(feature["counts"]) for feature in features]
    rows = sum(bins)
    counts = np.fromfile(os.path.join(args.data, "counts.i32"), dtype="<i4")
    total_assets = counts.size // rows
    counts = counts.reshape(rows, total_assets)
    first_row = np.concatenate([[0], np.cumsum(bins)])
    feature_centers = [centers(feature) for feature in features]
    assets = min(args.assets, total_assets)

    results = np.empty((5, len(features), assets))
    drifting = 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    for j in range(assets):
        p = np.empty(len(features))
        for s, feature in enumerate(features):
            live = counts[first_row[s]:first_row[s + 1], j]
            psi, js, w1, chi2, _, p[s] = drift_statistics(feature["counts"], live, feature_centers[s])
            results[:, s, j] = (psi, js, w1, chi2, p[s])
        drifting += int(bh_reject(p, 0.05).any())
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started

    cells = assets * len(features)
    projected = seconds / cells * total_assets * len(features)
    print(f"Python (SciPy {__import__('scipy').__version__}, NumPy {np.__version__}), column by column: {assets} assets x "
          f"{len(features)} features in {seconds:.2f} s (CPU {cpu:.2f} s), {seconds / cells * 1e6:.0f} us per asset x feature; "
          f"projected to {total_assets} assets: {projected:.0f} s; {drifting} of {assets} assets drifting")

    scan_path = os.path.join(args.data, "scan.f64")
    if os.path.exists(scan_path):
        scan = np.fromfile(scan_path, dtype="<f8").reshape(5, len(features), total_assets)[:, :, :assets]
        worst = [float(np.nanmax(np.abs(scan[i] - results[i]) / np.maximum(np.abs(results[i]), 1e-300))) for i in range(5)]
        print("C# scan against SciPy on those cells, largest relative difference: " +
              ", ".join(f"{name} {w:.1e}" for name, w in zip(["PSI", "JS", "W1", "chi2", "p"], worst)))
        if max(worst) > 1e-9:
            sys.exit("the C# scan and SciPy disagree")


if __name__ == "__main__":
    main()
