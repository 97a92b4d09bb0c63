#!/usr/bin/env bash
# The grid's serving speed next to the seed's stack (FastAPI + Redis + XGBoost), one after the other in one run,
# on loopback: the same 300-tree depth-6 model of 40 features, the same 1000 assets with pushed feature vectors,
# the same load (wrk, 1 thread, 32 connections, random assets A0..A999). gRPC Predict is measured with h2load.
#
# usage: benchmarks/serving/run.sh [SECONDS]      (default 10 s per measurement; needs wrk, h2load, python3,
#        and for the peer ../shared/peers/fastapi_xgb with its Debian packages: see its README)
# Environment: GRID_ARGS adds options to `marketintel serve` (e.g. --no-dashboard).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
here=benchmarks/serving
peer=${PEER_DIR:-../shared/peers/fastapi_xgb}
for tool in wrk h2load python3 curl; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install wrk nghttp2-client python3 curl)" >&2; exit 1; }
done

work=$(mktemp -d)
grid_pid=""
cleanup() {
  [ -n "$grid_pid" ] && kill "$grid_pid" 2>/dev/null && wait "$grid_pid" 2>/dev/null || true
  [ -x "$peer/stop_peer.sh" ] && "$peer/stop_peer.sh" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

gunzip -c tests/fixtures/models/bench-d6-n300-f40.json.gz > "$work/bench.json"
dotnet build src/MarketIntel.Cli -c Release -v q --nologo -o "$work/cli" >/dev/null

wait_for() { for _ in $(seq 1 150); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done; echo "no answer from $1" >&2; exit 1; }
# wrk's summary: requests/s and the 50% and 99% latency lines, in ms.
wrk_row() {
  awk '/Requests\/sec/ {rps=$2}
       /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
       /Non-2xx/ {bad=$4}
       END {
         printf "%.0f %s %s %s\n", rps, ms(p50), ms(p99), (bad == "" ? 0 : bad) }
       function ms(v) { if (v ~ /us$/) return sprintf("%.3f", v / 1000); if (v ~ /ms$/) return sprintf("%.3f", v + 0);
                        if (v ~ /s$/) return sprintf("%.3f", v * 1000); return v }' "$1"
}
metric() { curl -s "http://127.0.0.1:5080/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

echo "== the grid: marketintel serve --model bench-d6-n300-f40.json ${GRID_ARGS:-}"
dotnet "$work/cli/marketintel.dll" serve --model "$work/bench.json" --http-port 5080 --grpc-port 5081 ${GRID_ARGS:-} > "$work/grid.log" 2>&1 &
grid_pid=$!
wait_for http://127.0.0.1:5080/healthz
python3 "$here/seed.py" 1000 40 5080
wrk -t1 -c32 -d2s -s "$here/random-asset.lua" http://127.0.0.1:5080 >/dev/null   # warm-up
wrk -t1 -c32 -d"${seconds}s" --latency -s "$here/random-asset.lua" http://127.0.0.1:5080 | tee "$work/grid-wrk.txt"
read -r grid_rps grid_p50 grid_p99 grid_bad < <(wrk_row "$work/grid-wrk.txt")

python3 "$here/grpc-predict-body.py" A17 "$work/predict.bin"
h2() { h2load -t1 -c32 -m1 "$@" -d "$work/predict.bin" -H 'content-type: application/grpc' -H 'te: trailers' \
         http://127.0.0.1:5081/marketintel.v1.Grid/Predict; }
h2 -D 2 >/dev/null 2>&1   # warm-up
before=$(metric marketintel_predictions_total)
h2 -D "$seconds" --log-file="$work/h2.log" | grep -v "^progress:\|thread #0\|Application protocol" | tee "$work/grid-h2.txt"
after=$(metric marketintel_predictions_total)
grpc_rps=$(awk '/^finished in/ {for (i = 1; i <= NF; i++) if ($i == "req/s,") print $(i-1) + 0}' "$work/grid-h2.txt")
read -r grpc_n grpc_p50 grpc_p99 < <(cut -f3 "$work/h2.log" | sort -n | awk '{v[NR] = $1} END {printf "%d %.3f %.3f\n", NR, v[int(NR*0.5)]/1000, v[int(NR*0.99)]/1000}')
grpc_ok=$(awk -v a="$after" -v b="$before" 'BEGIN {printf "%.0f", a - b}')
echo "gRPC: $grpc_n requests logged, $grpc_ok predictions counted by the grid's /metrics"
kill "$grid_pid"; wait "$grid_pid" 2>/dev/null || true; grid_pid=""

peer_rps=""
if [ -x "$peer/run_peer.sh" ]; then
  echo "== the seed's stack: $peer (FastAPI, 2 uvicorn workers, Redis, XGBoost)"
  "$peer/run_peer.sh" "$PWD/$work/bench.json" 40 >/dev/null 2>&1 || "$peer/run_peer.sh" "$work/bench.json" 40 >/dev/null
  wait_for http://127.0.0.1:8790/predict/A1
  wrk -t1 -c32 -d2s -s "$here/random-asset.lua" http://127.0.0.1:8790 >/dev/null
  wrk -t1 -c32 -d"${seconds}s" --latency -s "$here/random-asset.lua" http://127.0.0.1:8790 | tee "$work/peer-wrk.txt"
  read -r peer_rps peer_p50 peer_p99 peer_bad < <(wrk_row "$work/peer-wrk.txt")
  "$peer/stop_peer.sh" >/dev/null 2>&1 || true
fi

echo
printf '%-44s %12s %10s %10s %8s\n' "1000 assets, 32 connections, ${seconds} s" "requests/s" "p50 ms" "p99 ms" "errors"
printf '%-44s %12s %10s %10s %8s\n' "grid HTTP GET /predict/{asset} (wrk)" "$grid_rps" "$grid_p50" "$grid_p99" "$grid_bad"
printf '%-44s %12s %10s %10s %8s\n' "grid gRPC Predict, one asset (h2load)" "$grpc_rps" "$grpc_p50" "$grpc_p99" "$(( grpc_ok >= grpc_n ? 0 : grpc_n - grpc_ok ))"
if [ -n "$peer_rps" ]; then
  printf '%-44s %12s %10s %10s %8s\n' "seed stack HTTP GET /predict/{asset} (wrk)" "$peer_rps" "$peer_p50" "$peer_p99" "$peer_bad"
  awk -v g="$grid_rps" -v r="$grpc_rps" -v p="$peer_rps" 'BEGIN {printf "throughput, grid over seed stack: HTTP %.1fx, gRPC %.1fx\n", g / p, r / p}'
fi
