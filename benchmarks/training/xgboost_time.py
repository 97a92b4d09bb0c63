"""XGBoost's time for the same training as `train-speed`: usage xgboost_time.py DATA.csv [ROUNDS] [THREADS]."""
import sys, time
import numpy as np
import xgboost as xgb

path = sys.argv[1]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 200
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
data = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=np.float32)
y, x = data[:, 0], data[:, 1:]
start = time.perf_counter()
m = xgb.DMatrix(x, label=y)
booster = xgb.train({"objective": "binary:logistic", "tree_method": "hist", "max_depth": 6, "eta": 0.3, "nthread": threads}, m, rounds)
seconds = time.perf_counter() - start
p = np.clip(booster.predict(m).astype(np.float64), 1e-15, 1 - 1e-15)
loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
print(f"XGBoost {xgb.__version__}: {x.shape[0]} rows x {x.shape[1]} features, depth 6, {rounds} rounds, {threads} threads in {seconds:.2f} s (train log loss {loss:.5f})")
