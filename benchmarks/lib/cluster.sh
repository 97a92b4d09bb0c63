# Sourced by the cluster-mode benchmark scripts: a throwaway PostgreSQL (postgres.sh) and redis-server in "$work" (a
# temporary folder the caller made first), started by start_servers; on exit the processes listed in $pids are
# killed, both servers stopped and "$work" removed. Membership is tuned to notice a dead silo within seconds, as in
# the tests.
source "$(dirname "${BASH_SOURCE[0]}")/postgres.sh"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  stop_postgres
  [ -n "${redis_pid:-}" ] && kill "$redis_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
start_servers() {
  start_postgres; redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --dir "$work" >/dev/null & redis_pid=$!
}
wait_for() { for _ in $(seq 1 600); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done; echo "no answer from $1" >&2; exit 1; }
export Orleans__ClusterMembership__ProbeTimeout=00:00:01 Orleans__ClusterMembership__NumMissedProbesLimit=2 Orleans__ClusterMembership__TableRefreshTimeout=00:00:02
