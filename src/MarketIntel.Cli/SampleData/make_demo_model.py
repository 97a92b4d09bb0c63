#!/usr/bin/python3
"""Trains the demo's bundled model: next-bar direction from eight scale-free indicators.

Features come from `marketintel features` over the bundled daily data sets (so training sees exactly what the
grid's grains compute online); the label is whether the next bar's close is above this bar's close. Training
uses the first 70% of each series, and the script prints the directional accuracy on the remaining 30% next to
the majority-class rate, so nobody mistakes this for a good model: it exists to show the grid working.

Usage: make_demo_model.py MARKETINTEL_DLL OUT.json [DEPTH ROUNDS]   (needs Debian's python3-xgboost)
The bundled champion is depth 3, 60 rounds (direction-d3-n60.json); the demo's challenger depth 2, 30 rounds
(direction-d2-n30.json), with the same features and data.
"""
import csv, os, subprocess, sys, tempfile

import numpy as np
import xgboost as xgb

SPEC = "rsi_14,roc_10,zscore_20,bbpctb_20_2,logretsd_20,macd_12_26_9,macdsignal_12_26_9,lag_1_rsi_14"
HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "..", "data")
SERIES = [("msft-daily.csv", None), ("ttrc-daily.csv", None)] + [("eustockmarkets-daily.csv", c) for c in ("DAX", "SMI", "CAC", "FTSE")]


def features(cli, path, close):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "f.csv")
        cmd = ["dotnet", cli, "features", "--input", path, "--spec", SPEC, "--output", out]
        if close:
            cmd += ["--close", close]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            rows = list(csv.reader(f))
    header = rows[0]
    x = np.array([[float(v) if v else np.nan for v in r[1:]] for r in rows[1:]], dtype=np.float64)
    closes = []
    with open(path) as f:
        reader = csv.DictReader(f)
        key = close or "close"
        closes = np.array([float(r[key]) for r in reader])
    return header[1:], x, closes


def main(cli, out, depth=3, rounds=60):
    train_x, train_y, test_x, test_y = [], [], [], []
    for name, close in SERIES:
        names, x, c = features(cli, os.path.join(DATA, name), close)
        y = (c[1:] > c[:-1]).astype(np.float32)
        x = x[:-1]
        keep = ~np.isnan(x).any(axis=1)
        x, y = x[keep], y[keep]
        cut = int(len(y) * 0.7)
        train_x.append(x[:cut]); train_y.append(y[:cut]); test_x.append(x[cut:]); test_y.append(y[cut:])
    tx, ty = np.vstack(train_x), np.concatenate(train_y)
    vx, vy = np.vstack(test_x), np.concatenate(test_y)
    d = xgb.DMatrix(tx, label=ty, feature_names=names)
    params = {"objective": "binary:logistic", "max_depth": depth, "eta": 0.1, "subsample": 0.8, "seed": 7, "tree_method": "hist", "nthread": 1}
    booster = xgb.train(params, d, num_boost_round=rounds)
    booster.save_model(out)
    p = booster.predict(xgb.DMatrix(vx, feature_names=names))
    accuracy = float(((p > 0.5) == (vy > 0.5)).mean())
    majority = float(max(vy.mean(), 1 - vy.mean()))
    print(f"trained on {len(ty)} rows; held-out directional accuracy {accuracy:.3f} on {len(vy)} rows (majority class {majority:.3f})")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:5]))
