#!/usr/bin/env bash
# Chaos under load, for longer than the test suite runs it: three silos in cluster mode (real PostgreSQL and
# Redis, started by the test itself) take a steady ingest and predictions while silos are SIGKILLed or SIGTERMed at
# random and replaced, and Redis is restarted once. It fails if any acknowledged bar is lost or stored twice, or if
# any asset's features differ from the batch features of its archive; it prints each injected failure and the
# error rate and p99 latency of predictions during failovers (10 s after each failure) and between them.
#
# Usage: benchmarks/chaos/run.sh [SECONDS]   (default 300; needs what ./scripts/test.sh installs)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-300}"
MARKETINTEL_CHAOS_SECONDS="$seconds" dotnet test tests/MarketIntel.Cluster.Tests -c Release \
  --filter "FullyQualifiedName~ChaosTests" --logger "console;verbosity=detailed" 2>&1 |
  { grep -E '^ +[0-9.]+ s  |failovers:|^ run:|Passed |Failed |Error Message|Assert' || true; }
