#!/usr/bin/env bash
# The batch drift scan against the same statistics in Python, on the same data, in one run (issue 21):
# 10,000 assets x 40 features x 20 bins, windows of 500 bars, references of 20,000 rows. The C# scan runs on one
# thread over every asset; the Python job (SciPy and NumPy column by column, as Evidently computes drift) over the
# first PY_ASSETS assets, its time projected to all, and its answers compared with the scan's.
#
# usage: benchmarks/drift/run.sh [ASSETS] [PY_ASSETS]   (defaults 10000 250)
# needs: Debian's python3-scipy (/usr/bin/python3)
set -euo pipefail
cd "$(dirname "$0")/../.."
assets=${1:-10000}; py_assets=${2:-250}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet build benchmarks/MarketIntel.Benchmarks -c Release -v q -nologo >/dev/null
bench() { dotnet run -c Release --no-build --project benchmarks/MarketIntel.Benchmarks -- drift-scan --data "$work" "$@"; }
bench --generate --assets "$assets" --window 500
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d' ' -f1-3 /proc/loadavg)"
DOTNET_TieredPGO=1 bench --runs 20
/usr/bin/python3 benchmarks/drift/drift_job.py "$work" --assets "$py_assets"
