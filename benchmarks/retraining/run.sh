#!/usr/bin/env bash
# Retraining on a worker silo, measured on this machine (issue 22's figures): a real PostgreSQL and redis-server in a
# temporary folder, one serving and one worker silo (`marketintel serve --cluster --role serving|worker`), and:
#  1. drift to promotion: the champion is `backtest --save-model` on the bundled TTRC series (spec roc_1, label up_1),
#     its reference profile the archive's TTRC bars of 2005-2006; then runs of 25 bars rising and 25 falling 1% a bar
#     are appended to TTRC, 20 bars per `marketintel ingest` call, until the drift alarm's job has trained the
#     challenger on the worker and the automatic policy (alias champion, autoPromote) has promoted it. Prints the time
#     from the first shifted bar to the job's start and to the promotion.
#  2. serving p99 with and without a job: the bundled USD/CHF half-hours ingested; `marketintel loadtest` (gRPC
#     Predict on TTRC and USDCHF, open loop) once with no job, then again while a job retrains on the worker from
#     USDCHF's 50,000 latest bars with the 20 standard indicators; prints both reports and the job's state after the load.
# Short intervals come through the environment (below), as in the cluster tests.
#
# usage: benchmarks/retraining/run.sh [RATE] [DURATION]   (defaults 2000 requests/s, 20s)
#        CLI=DIR uses a marketintel build in DIR instead of building one; PIN=1 pins the serving silo, the load generator
#        and the other commands to CPU 0 and the worker to CPU 1 (taskset), as far as one machine can stand for two: the
#        job's booster then trains with the one core the worker may use (Grid:Retraining:Threads 0 follows the affinity);
#        NICE=1 runs the worker at the lowest CPU priority (nice 19), as a worker sharing a machine with serving silos
#        would be run, so that the serving side takes a core whenever it wants one (with PIN=1 or without)
# needs: redis-server and PostgreSQL (Debian's postgresql; run as root it uses the 'postgres' user), curl, python3
set -euo pipefail
cd "$(dirname "$0")/../.."
rate=${1:-2000}; duration=${2:-20s}
# A p99 measured beside other work measures that work: say so before the figures do.
load1=$(cut -d' ' -f1 /proc/loadavg)
awk -v l="$load1" 'BEGIN { exit !(l >= 3) }' && echo "warning: load average $load1 (3 or more): other work on this machine will show in the figures" >&2
work=$(mktemp -d); chmod 755 "$work"
source benchmarks/lib/cluster.sh
start_servers
cli=${CLI:-$work/cli}
[ -n "${CLI:-}" ] || dotnet build src/MarketIntel.Cli -c Release -v q --nologo -o "$cli" >/dev/null
# PIN=1: everything but the worker on CPU 0 (the serving side), the worker alone on CPU 1.
serving_cpu=(); worker_cpu=()
[ -n "${PIN:-}" ] && serving_cpu=(taskset -c 0) && worker_cpu=(taskset -c 1)
# NICE=1: the worker yields the CPU to everything else on the machine.
[ -n "${NICE:-}" ] && worker_cpu=(nice -n 19 "${worker_cpu[@]}")
mi() { "${serving_cpu[@]}" dotnet "$cli/marketintel.dll" "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
now() { date +%s.%N; }

export Grid__Drift__Window=100 Grid__Drift__FlushInterval=00:00:01 Grid__Drift__EvaluateEveryBars=50 Grid__Scoring__FlushInterval=00:00:00.5 \
  Grid__Promotion__CheckInterval=00:00:01 Grid__Promotion__MinPairs=200 Grid__Retraining__CheckInterval=00:00:01

# The champion, with its lineage's profile left out: drift is measured against the recent regime set below.
# 1,500 rounds of depth 5 (the lineage's parameters, which every job of the model uses), so the job of part 2 outlasts the load.
mi backtest --data data/ttrc-daily.csv --spec roc_1 --horizon 1 --rounds 1500 --max-depth 5 --save-model "$work/dir.json" --asset TTRC --report "$work/report" >/dev/null
python3 -c "import json,sys; p=sys.argv[1]; d=json.load(open(p)); d['profile']=None; json.dump(d, open(p,'w'))" "$work/dir.json.lineage.json"

psql -h 127.0.0.1 -p "$pg_port" -U marketintel -d postgres -qc "CREATE DATABASE grid" >/dev/null
conn="Host=127.0.0.1;Port=$pg_port;Username=marketintel;Database=grid"
mi db migrate --postgres "$conn" >/dev/null
declare -A http grpc
for role in serving worker; do
  http[$role]=$(free_port); grpc[$role]=$(free_port); silo=$(free_port)
  model=(); [ "$role" = serving ] && model=(--model "$work/dir.json")
  pin=("${serving_cpu[@]}"); [ "$role" = worker ] && pin=("${worker_cpu[@]}")
  "${pin[@]}" dotnet "$cli/marketintel.dll" serve --cluster --redis "127.0.0.1:$redis_port" --postgres "$conn" --role "$role" --no-dashboard \
    --http-port "${http[$role]}" --grpc-port "${grpc[$role]}" --silo-port "$silo" "${model[@]}" > "$work/$role.log" 2>&1 &
  pids+=($!)
done
for role in serving worker; do wait_for "http://127.0.0.1:${http[$role]}/healthz"; done
api="http://127.0.0.1:${http[serving]}"; target="grpc://127.0.0.1:${grpc[serving]}"
version=$(curl -sf "$api/models/dir" | json "d['versions'][0]['version']")
curl -sf -H "Content-Type: application/json" -X PUT "$api/models/dir/aliases/champion" -d "{\"version\":\"$version\",\"autoPromote\":true}" >/dev/null
mi ingest --target "$target" --asset TTRC --file data/ttrc-daily.csv >/dev/null
curl -sf -H "Content-Type: application/json" -X POST "$api/models/dir/versions/$version/profile" -d '{"assets":["TTRC"],"from":"2005-01-01T00:00:00Z"}' >/dev/null

echo "-- 1. drift to a promoted challenger (champion dir@$version, TTRC then runs of 25 bars of +-1%)"
python3 - "$work" <<'PY'
import sys, datetime
work = sys.argv[1]
close, day = 51.95, datetime.date(2007, 1, 1)
for chunk in range(150):
    with open(f"{work}/shift{chunk:03}.csv", "w") as f:
        f.write("timestamp,open,high,low,close,volume\n")
        for k in range(20):
            i = chunk * 20 + k
            o = close; close *= 1.01 if (i // 25) % 2 == 0 else 0.99
            f.write(f"{day.isoformat()},{o!r},{max(o, close) * 1.0005!r},{min(o, close) * 0.9995!r},{close!r},1000000\n")
            day += datetime.timedelta(days=1)
PY
start=$(now); job_at=""; state=""
for file in "$work"/shift*.csv; do
  mi ingest --target "$target" --asset TTRC --file "$file" >/dev/null
  job=$(curl -sf "$api/models/dir/retrain?limit=1" | json "(d['jobs'][0]['state'] + ' ' + d['jobs'][0]['id']) if d['jobs'] else ''")
  [ -n "$job" ] && [ -z "$job_at" ] && job_at=$(now)
  state=${job%% *}
  case "$state" in promoted|rejected|failed|cancelled) break ;; esac
done
end=$(now)
curl -sf "$api/models/dir/retrain?limit=1" | json "(lambda j: ' '.join(['   job', j['id'], j['trigger'], '-', j['reason'], '->', j['state'], str(j['version']), '|', j['detail'][:160]]))(d['jobs'][0])"
awk -v s="$start" -v j="${job_at:-$end}" -v e="$end" -v st="$state" 'BEGIN { printf "   first shifted bar to job seen: %.1f s; to %s: %.1f s\n", j - s, st, e - s }'

echo "-- 2. serving p99, gRPC Predict on TTRC and USDCHF, open loop $rate/s for $duration"
mi ingest --target "$target" --asset USDCHF --file data/usdchf-30m.csv >/dev/null
load() { mi loadtest --target "$target" --symbols TTRC,USDCHF --rate "$rate" --connections 8 --duration "$duration" --warmup 2s; }
spec="sma_10,ema_10,wma_10,rsi_14,atr_14,macd_12_26_9,macdsignal_12_26_9,bbpctb_20_2,bbwidth_20_2,roc_10,stochk_14_3,stochd_14_3,obv,logretsd_20,cci_20,adx_14,wpr_14,mfi_14,vwap_20,zscore_20"
# Alternated twice, so that a change in the machine's other load shows as a difference between the two pairs.
for round in 1 2; do
  # The second job lists the features the other way round: another model, so not the first job's version again.
  [ "$round" -eq 2 ] && spec=$(tr ',' '\n' <<<"$spec" | tac | paste -sd,)
  echo "   round $round, no job (load average $(cut -d' ' -f1-3 /proc/loadavg)):"; load
  id=$(curl -s -H "Content-Type: application/json" -X POST "$api/models/dir/retrain" -d "{\"assets\":[\"USDCHF\"],\"spec\":\"$spec\",\"force\":true,\"reason\":\"benchmark\"}" | json "d['job']['id']")
  for _ in $(seq 1 600); do
    [ "$(curl -sf "$api/models/dir/retrain/$id" | json "d['state']")" = running ] && break; sleep 0.1
  done
  echo "   round $round, job $id running on the worker (load average $(cut -d' ' -f1-3 /proc/loadavg)):"; load
  ended=$(date -u +%Y-%m-%dT%H:%M:%S)
  curl -sf "$api/models/dir/retrain/$id" | json "'   the job ' + ('ran through the whole load' if d['finishedAt'] is None or d['finishedAt'] > '$ended' else 'ENDED BEFORE THE LOAD DID: the figure is not of a load beside a job') + ': ' + d['state'] + ' at ' + str(d['finishedAt']) + ', rows ' + str(d['progress']['rows']) + ', folds ' + str(d['progress']['foldsDone']) + ', rounds ' + str(d['progress']['roundsDone'])"
  for _ in $(seq 1 3000); do
    case "$(curl -sf "$api/models/dir/retrain/$id" | json "d['state']")" in waiting|running) sleep 0.2 ;; *) break ;; esac
  done
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average $(cut -d' ' -f1-3 /proc/loadavg)"
