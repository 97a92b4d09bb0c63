#!/usr/bin/env bash
# Cluster mode's durable ingest on this machine: a real PostgreSQL (fsync on, synchronous commit: the defaults)
# and redis-server in a temporary folder, then 1 silo and then 3 silos (`marketintel serve --cluster`, each on a
# fresh database), the same bars pushed through IngestBars by the cluster-ingest driver; every acknowledgement
# waits for PostgreSQL. Then, with 3 silos, one is SIGKILLed and the driver asks every asset for its features
# through a survivor: the time until all answer covers failure detection and reactivation from the archive.
#
# usage: benchmarks/cluster/run.sh [ASSETS] [BARS] [CHUNK] [CONNECTIONS]   (defaults 300 2000 100 32)
#        MODEL=FILE serves FILE as every asset's model (default: none, so no asset predicts); SHADOWS=N (with MODEL)
#        registers N more versions of FILE's bytes under its model name and puts them in shadow, so every asset also
#        predicts (and scores, where FILE has a lineage) with N shadows; settings pass through the environment, e.g.
#        Postgres__PredictionLog=false
# needs: redis-server and PostgreSQL (Debian's postgresql; run as root it uses the 'postgres' user), curl
set -euo pipefail
cd "$(dirname "$0")/../.."
assets=${1:-300}; bars=${2:-2000}; chunk=${3:-100}; connections=${4:-32}
shadows=${SHADOWS:-0}
if [ "$shadows" -gt 0 ] && [ -z "${MODEL:-}" ]; then echo "SHADOWS=$shadows needs MODEL=FILE (the shadows are versions of its model)" >&2; exit 2; fi
work=$(mktemp -d); chmod 755 "$work"
source benchmarks/lib/cluster.sh
start_servers

dotnet build src/MarketIntel.Cli -c Release -v q --nologo -o "$work/cli" >/dev/null
dotnet build benchmarks/MarketIntel.Benchmarks -c Release -v q --nologo -o "$work/bench" >/dev/null
mi() { dotnet "$work/cli/marketintel.dll" "$@"; }
drive() { dotnet "$work/bench/MarketIntel.Benchmarks.dll" cluster-ingest "$@"; }

# run_cluster N: N silos on a fresh database; sets targets, http_ports, pids
run_cluster() {
  local n=$1 db="grid$1"
  psql -h 127.0.0.1 -p "$pg_port" -U marketintel -d postgres -qc "CREATE DATABASE $db" >/dev/null
  local conn="Host=127.0.0.1;Port=$pg_port;Username=marketintel;Database=$db"
  mi db migrate --postgres "$conn" >/dev/null
  targets=""; http_ports=(); pids=()
  for i in $(seq 1 "$n"); do
    local http grpc silo; http=$(free_port); grpc=$(free_port); silo=$(free_port)
    # dotnet itself in the background (not a shell function), so that $! is the silo's own process to kill
    dotnet "$work/cli/marketintel.dll" serve --cluster --redis "127.0.0.1:$redis_port" --postgres "$conn" --cluster-id "bench$n" --no-dashboard \
      --http-port "$http" --grpc-port "$grpc" --silo-port "$silo" ${MODEL:+--model "$MODEL"} > "$work/silo$n-$i.log" 2>&1 &
    pids+=($!); http_ports+=("$http"); targets+="${targets:+,}grpc://127.0.0.1:$grpc"
  done
  for p in "${http_ports[@]}"; do wait_for "http://127.0.0.1:$p/healthz"; done
  add_shadows "http://127.0.0.1:${http_ports[0]}"
}

# add_shadows URL: $shadows more versions of MODEL's bytes (shadow1, shadow2, ...) under the name `serve --model` gave
# it (the file name), each in shadow; the registry pushes the change to every silo before it answers
add_shadows() {
  local name; name=$(basename "$MODEL"); name=${name%.json}; name=${name%.onnx}; name=${name//@/_}
  for s in $(seq 1 "$shadows"); do
    mi models register --target "$1" --name "$name" --version "shadow$s" --model "$MODEL" >/dev/null
    mi models shadow --target "$1" --name "$name" --version "shadow$s" >/dev/null
  done
  [ "$shadows" -eq 0 ] || echo "   $name: $shadows shadow(s) of the served version"
}

for n in 1 3; do
  run_cluster "$n"
  echo "-- $n silo(s)"
  drive --targets "$targets" --assets "$assets" --bars "$bars" --chunk "$chunk" --connections "$connections"
  for p in "${http_ports[@]}"; do
    curl -s "http://127.0.0.1:$p/metrics" | awk -v p="$p" '/^marketintel_archive_(writes|rows)_total/ {v[$1]=$2}
      END { if (v["marketintel_archive_writes_total"] > 0) printf "   silo :%s wrote %d bars in %d commits (%.0f bars per commit)\n", p,
        v["marketintel_archive_rows_total"], v["marketintel_archive_writes_total"], v["marketintel_archive_rows_total"] / v["marketintel_archive_writes_total"] }'
    curl -s "http://127.0.0.1:$p/metrics" | awk -v p="$p" '/^marketintel_(predictions|bars_accepted)_total / {v[$1]=$2}
      END { if (v["marketintel_predictions_total"] > 0) printf "   silo :%s made %d predictions for %d accepted bars (%.2f per bar: the served version and each shadow)\n", p,
        v["marketintel_predictions_total"], v["marketintel_bars_accepted_total"], v["marketintel_predictions_total"] / v["marketintel_bars_accepted_total"] }'
    curl -s "http://127.0.0.1:$p/metrics" | awk -v p="$p" '/^marketintel_prediction_log_(rows|dropped_rows)_total/ {v[$1]=$2}
      END { if (v["marketintel_prediction_log_rows_total"] + v["marketintel_prediction_log_dropped_rows_total"] > 0) printf "   silo :%s logged %d predictions (%d dropped)\n", p,
        v["marketintel_prediction_log_rows_total"], v["marketintel_prediction_log_dropped_rows_total"] }'
  done
  if [ "$n" -eq 3 ]; then
    kill -9 "${pids[1]}"; wait "${pids[1]}" 2>/dev/null || true
    echo "-- silo 2 of 3 SIGKILLed"
    drive --targets "${targets%%,*}" --assets "$assets" --probe
    for p in "${http_ports[0]}" "${http_ports[2]}"; do
      curl -s "http://127.0.0.1:$p/metrics" | awk -v p="$p" '/^marketintel_asset_replay(s|ed_bars|_seconds)_total/ {v[$1]=$2}
        END { if (v["marketintel_asset_replays_total"] > 0) printf "   survivor :%s rebuilt %d assets from %d archived bars in %.3f s of replay (%.1f ms per asset)\n", p,
          v["marketintel_asset_replays_total"], v["marketintel_asset_replayed_bars_total"], v["marketintel_asset_replay_seconds_total"],
          1000 * v["marketintel_asset_replay_seconds_total"] / v["marketintel_asset_replays_total"] }'
    done
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}')"
