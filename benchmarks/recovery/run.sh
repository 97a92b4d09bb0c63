#!/usr/bin/env bash
# Bounded recovery: what an asset's activation costs with a long archive, read back from a real PostgreSQL (started
# here, durable defaults) and fed to the grid's default features, from the first bar and from a feature-state
# checkpoint taken TAIL bars before the end (cluster mode writes one every Grid:CheckpointEveryBars bars).
#
# usage: benchmarks/recovery/run.sh [BARS] [TAIL]   (defaults 1000000 5000)
# needs: PostgreSQL (Debian's postgresql; run as root it uses the 'postgres' user)
set -euo pipefail
cd "$(dirname "$0")/../.."
bars=${1:-1000000}; tail=${2:-5000}
work=$(mktemp -d); chmod 755 "$work"
source benchmarks/lib/postgres.sh
trap 'stop_postgres; rm -rf "$work"' EXIT
start_postgres
psql -h 127.0.0.1 -p "$pg_port" -U marketintel -d postgres -qc "CREATE DATABASE recovery" >/dev/null
dotnet run -c Release --project benchmarks/MarketIntel.Benchmarks -- activation-replay \
  --postgres "Host=127.0.0.1;Port=$pg_port;Username=marketintel;Database=recovery" --bars "$bars" --tail "$tail"
