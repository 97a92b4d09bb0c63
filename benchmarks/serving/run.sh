#!/usr/bin/env bash
# The grid's serving speed next to the seed's stack (FastAPI + Redis + XGBoost), one after the other in one run,
# on loopback, measured by `marketintel loadtest`: the same 300-tree depth-6 model of 40 features, the same 1000
# assets with pushed feature vectors, the same loads — closed loop with 32 connections (for the grid's gRPC also
# 32 calls multiplexed over 2 connections, as a gRPC channel sends them), and open loop at several rates (latency
# from each request's scheduled send time). wrk runs once per stack as a cross-check of the
# closed-loop figure. Prints one row per measurement and the grid-over-seed ratios.
#
# usage: [PEER_DIR=DIR] benchmarks/serving/run.sh [SECONDS] [RATES]     (default 10 s per measurement after a 2 s
#        warm-up, rates "1000 2000 4000"; needs python3 and curl, and wrk for the cross-check)
#
# The seed's stack is not part of this repository. It is the FastAPI + Redis + XGBoost service that the project's
# seed documents planned, written as a peer to measure against and kept outside the project (in the workspace the
# project was built in, as peers/fastapi_xgb beside the repository, with a README listing its Debian packages).
# PEER_DIR names a folder holding it: `run_peer.sh MODEL.json NFEATURES` must start it with 1000 assets A0..A999
# answering GET http://127.0.0.1:8790/predict/{asset}, and `stop_peer.sh` must stop it. Without PEER_DIR the
# script measures the grid alone: every grid row (HTTP and gRPC closed loop, multiplexed gRPC, PredictBatch, the
# open-loop rates, wrk), and no seed-stack rows and no ratios; it says so at the start and at the end.
# Environment: GRID_ARGS adds options to `marketintel serve` (e.g. --no-dashboard).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
rates=${2:-1000 2000 4000}
here=benchmarks/serving
peer=${PEER_DIR:-}
if [ -z "$peer" ]; then
  peer_missing="PEER_DIR is not set"
elif [ ! -x "$peer/run_peer.sh" ]; then
  peer_missing="PEER_DIR=$peer has no executable run_peer.sh"
else
  peer_missing=""
fi
if [ -n "$peer_missing" ]; then
  echo "$peer_missing: measuring the grid alone, without the seed's stack and without grid-over-seed ratios" \
    "(see the top of $0 for what PEER_DIR must hold)" >&2
fi
for tool in python3 curl; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done

work=$(mktemp -d)
grid_pid=""
cleanup() {
  [ -n "$grid_pid" ] && kill "$grid_pid" 2>/dev/null && wait "$grid_pid" 2>/dev/null || true
  [ -n "$peer" ] && [ -x "$peer/stop_peer.sh" ] && "$peer/stop_peer.sh" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

gunzip -c tests/fixtures/models/bench-d6-n300-f40.json.gz > "$work/bench.json"
dotnet build src/MarketIntel.Cli -c Release -v q --nologo -o "$work/cli" >/dev/null
mi() { dotnet "$work/cli/marketintel.dll" "$@"; }
wait_for() { for _ in $(seq 1 150); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done; echo "no answer from $1" >&2; exit 1; }

# measure NAME TARGET [loadtest options...]: one row, its JSON in $work/NAME.json
measure() {
  local name=$1 target=$2; shift 2
  echo "-- $name"
  mi loadtest --target "$target" --duration "${seconds}s" --warmup 2s --json "$work/$name.json" "$@" | sed -n '/requests\/s/,$p'
}
# wrk_check NAME ORIGIN: wrk's closed-loop figure for the same load, as JSON like the load test's.
wrk_check() {
  command -v wrk >/dev/null || return 0
  echo "-- $1 (wrk cross-check)"
  wrk -t1 -c32 -d2s -s "$here/random-asset.lua" "$2" >/dev/null
  wrk -t1 -c32 -d"${seconds}s" --latency -s "$here/random-asset.lua" "$2" | tee "$work/$1.txt" | grep -E "Requests/sec|^ +(50|99)%"
  python3 - "$work/$1.txt" "$work/$1.json" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
def ms(v):
    n, unit = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
row = {"throughput": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
       "p50_ms": ms(re.search(r"50%\s+(\S+)", text).group(1)), "p90_ms": ms(re.search(r"90%\s+(\S+)", text).group(1)),
       "p99_ms": ms(re.search(r"99%\s+(\S+)", text).group(1)), "max_ms": None,
       "errors": int((re.search(r"Non-2xx or 3xx responses: (\d+)", text) or [0, 0])[1])}
json.dump(row, open(sys.argv[2], "w"))
PY
}

# Figures from a server left over from an earlier run would be worse than none.
for port in 5080 5081 8790; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "port $port is already in use: stop what listens there first" >&2; exit 1; fi
done

echo "== the grid: marketintel serve --model bench-d6-n300-f40.json ${GRID_ARGS:-}"
# dotnet itself in the background (not the mi function, whose subshell would outlive a kill of its pid)
dotnet "$work/cli/marketintel.dll" serve --model "$work/bench.json" --http-port 5080 --grpc-port 5081 ${GRID_ARGS:-} > "$work/grid.log" 2>&1 &
grid_pid=$!
wait_for http://127.0.0.1:5080/healthz
kill -0 "$grid_pid" 2>/dev/null || { echo "the grid exited: $(tail -3 "$work/grid.log")" >&2; exit 1; }
mi loadtest --target grpc://127.0.0.1:5081 --seed-assets 1000 --features 40 --requests 1000 --warmup 0 | head -1
# A fresh process runs tier-0 code until tiered PGO has recompiled its hot paths: load it for a while first.
echo "-- warming the grid up (discarded)"
mi loadtest --target 'http://127.0.0.1:5080/predict/{asset}' --duration 8s --warmup 0 >/dev/null
mi loadtest --target grpc://127.0.0.1:5081 --duration 4s --warmup 0 >/dev/null
measure grid-http 'http://127.0.0.1:5080/predict/{asset}'
measure grid-grpc grpc://127.0.0.1:5081
# The same 32 calls in flight as a gRPC channel sends them: multiplexed, 16 at a time on each of 2 connections.
measure grid-grpc-mux grpc://127.0.0.1:5081 --connections 2 --streams 16
measure grid-grpc-batch grpc://127.0.0.1:5081 --batch 100 --connections 8
for rate in $rates; do measure "grid-http-r$rate" 'http://127.0.0.1:5080/predict/{asset}' --rate "$rate"; done
wrk_check grid-wrk http://127.0.0.1:5080
kill "$grid_pid"; wait "$grid_pid" 2>/dev/null || true; grid_pid=""

if [ -z "$peer_missing" ]; then
  echo "== the seed's stack: $peer (FastAPI, 2 uvicorn workers, Redis, XGBoost)"
  "$peer/run_peer.sh" "$work/bench.json" 40 >/dev/null
  wait_for http://127.0.0.1:8790/predict/A1
  mi loadtest --target 'http://127.0.0.1:8790/predict/{asset}' --duration 4s --warmup 0 >/dev/null
  measure peer-http 'http://127.0.0.1:8790/predict/{asset}'
  for rate in $rates; do measure "peer-http-r$rate" 'http://127.0.0.1:8790/predict/{asset}' --rate "$rate"; done
  wrk_check peer-wrk http://127.0.0.1:8790
  "$peer/stop_peer.sh" >/dev/null 2>&1 || true
fi

echo
python3 - "$work" "$seconds" "$peer_missing" $rates <<'PY'
import json, os, sys
work, seconds, peer_missing, rates = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
def row(name):
    path = os.path.join(work, name + ".json")
    return json.load(open(path)) if os.path.exists(path) else None
def fmt(v, spec):
    return format(v, spec) if v is not None else "-"
print(f"1000 assets, 300-tree model, {seconds} s per row after a 2 s warm-up, loopback")
print(f"{'':46} {'requests/s':>11} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'errors':>7}")
rows = [("grid-http", "grid HTTP GET /predict, closed loop 32"), ("grid-grpc", "grid gRPC Predict, closed loop 32"),
        ("grid-grpc-mux", "grid gRPC Predict, 32 on 2 conns x 16 streams"),
        ("grid-grpc-batch", "grid gRPC PredictBatch of 100, closed loop 8"), ("grid-wrk", "grid HTTP, wrk -t1 -c32 (cross-check)")]
rows += [(f"grid-http-r{r}", f"grid HTTP, open loop {r}/s") for r in rates]
rows += [("peer-http", "seed stack HTTP, closed loop 32"), ("peer-wrk", "seed stack HTTP, wrk -t1 -c32 (cross-check)")]
rows += [(f"peer-http-r{r}", f"seed stack HTTP, open loop {r}/s") for r in rates]
for name, label in rows:
    r = row(name)
    if r:
        print(f"{label:46} {r['throughput']:>11,.0f} {r['p50_ms']:>8.3f} {r['p90_ms']:>8.3f} {r['p99_ms']:>8.3f} {fmt(r.get('p999_ms'), '>9.3f'):>9} {r['errors']:>7}")
g, p = row("grid-http"), row("peer-http")
if peer_missing:
    print()
    print(f"the grid alone ({peer_missing}): no seed-stack rows, no ratios")
if g and p:
    print()
    mux = row("grid-grpc-mux")
    print(f"closed loop, grid over seed stack: HTTP {g['throughput'] / p['throughput']:.1f}x, gRPC {row('grid-grpc')['throughput'] / p['throughput']:.1f}x"
          + (f" (multiplexed {mux['throughput'] / p['throughput']:.1f}x)" if mux else "") + " the requests/s"
          + (f" (wrk: {row('grid-wrk')['throughput'] / row('peer-wrk')['throughput']:.1f}x)" if row("grid-wrk") and row("peer-wrk") else ""))
    for r in rates:
        gr, pr = row(f"grid-http-r{r}"), row(f"peer-http-r{r}")
        if gr and pr:
            print(f"open loop {r}/s: p99 {gr['p99_ms']:.3f} ms against {pr['p99_ms']:.3f} ms ({pr['p99_ms'] / gr['p99_ms']:.0f}x lower), errors {gr['errors']} against {pr['errors']}")
PY
