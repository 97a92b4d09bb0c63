# Sourced by the benchmark scripts: a throwaway PostgreSQL server with its durable defaults (fsync on, synchronous
# commit) in "$work/pg", on a free loopback port ($pg_port), user marketintel, trust authentication.
# The caller sets $work (a temporary folder) first, and calls stop_postgres when it is done.
pgbin=$(dirname "$(command -v pg_ctl 2>/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl | tail -1)")
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_postgres() {
  pg_port=$(free_port)
  mkdir "$work/pg"; [ "$(id -u)" -eq 0 ] && chown postgres "$work/pg"
  as_pg "$pgbin/initdb" -D "$work/pg" -A trust -U marketintel >/dev/null
  as_pg "$pgbin/pg_ctl" -D "$work/pg" -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1" -l "$work/pg/log" -w start >/dev/null
}
stop_postgres() { as_pg "$pgbin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true; }
