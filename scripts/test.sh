#!/usr/bin/env bash
# The whole test suite, as the README's test command and CI run it, on a fresh Debian machine with the
# .NET 10 SDK. It installs the Debian packages the tests need when they are missing, builds in Release,
# runs every test project and ends with one summary line: "tests: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the suite needs at run time (command -> package). The feature-engine tests need none:
# their TTR references are committed fixtures. The load-test tests check `marketintel loadtest` against wrk.
# The storage and cluster tests start their own redis-server and PostgreSQL (initdb and pg_ctl into temp dirs).
# The operations tests check the alert rules and configuration with promtool and run a real Prometheus against a grid.
declare -A NEEDS=([wrk]=wrk [redis-server]=redis-server [promtool]=prometheus [prometheus]=prometheus)
missing=()
for cmd in "${!NEEDS[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEEDS[$cmd]}")
done
# Debian keeps PostgreSQL's server binaries off PATH, in /usr/lib/postgresql/N/bin; the tests look there too.
command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
# The training tests compare with XGBoost 1.7 through Debian's python3 (not a virtualenv's).
/usr/bin/python3 -c "import xgboost, numpy" >/dev/null 2>&1 || missing+=(python3-xgboost python3-numpy)
# The promotion gate's statistics are checked against SciPy (binomtest, Student's t) through the same python3.
/usr/bin/python3 -c "import scipy" >/dev/null 2>&1 || missing+=(python3-scipy)
# The Python client's test pip-installs clients/python into a virtualenv over Debian's python3 (grpcio, protobuf, pandas,
# setuptools, venv, pip) and its build generates the stubs with protoc and gRPC's Python plugin.
/usr/bin/python3 -c "import grpc, google.protobuf, pandas, setuptools, pip" >/dev/null 2>&1 \
  || missing+=(python3-grpcio python3-protobuf python3-pandas python3-setuptools python3-pip)
# `python3 -m venv` needs python3-venv (it brings what ensurepip installs pip from).
dpkg -s python3-venv >/dev/null 2>&1 || missing+=(python3-venv)
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
command -v grpc_python_plugin >/dev/null 2>&1 || missing+=(protobuf-compiler-grpc)
# The backtest's plots (ScottPlot on SkiaSharp) measure and draw their text with a font from /usr/share/fonts.
ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf >/dev/null 2>&1 || missing+=(fonts-dejavu-core)
# The web console's browser test drives headless chromium through chromedriver with Debian's python3-selenium.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
/usr/bin/python3 -c "import selenium" >/dev/null 2>&1 || missing+=(python3-selenium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi

command -v dotnet >/dev/null 2>&1 || { echo "the .NET 10 SDK (dotnet) is required" >&2; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
dotnet test MarketIntel.sln -c Release --nologo 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# Sum the per-project "Passed!/Failed! - Failed: a, Passed: b, Skipped: c" lines into one line.
awk '/(Passed|Failed)! +- Failed:/ {
       gsub(/,/, ""); for (i = 1; i <= NF; i++) {
         if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
