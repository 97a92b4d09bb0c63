#!/usr/bin/env bash
# The GPU figures of issue 25, each checked against the CPU path on the same machine before it is timed: batch
# inference (300-tree depth-6 model, 10M rows: rows/s, GPU against every CPU core), the drift scan (100,000 assets
# x 40 features, GPU against the CPU scan) and training (10M rows x 50 features, depth 8, 256 bins, 200 rounds, GPU
# against the CPU booster on every core; the histogram kernel as a share of copy bandwidth). The GPU machine has no .NET, so the program runs from a self-contained
# publish in the git-ignored .device/ folder (a folder, or its tarball, which is what travels to the device).
#
# usage: benchmarks/gpu/run.sh publish                       build .device/gpu-bench and .device/gpu-bench.tar.gz (needs .NET)
#        benchmarks/gpu/run.sh [--device cuda|cpu] [--sections inference,drift,training] [--rows N] [--assets N] [--features N]
#                              [--rounds N] [--depth N]
#   --device defaults to cuda. --device cpu runs the kernels on ILGPU's CPU accelerator at small default sizes, to prove
#   the script and the checks work on a machine without a GPU: those timings are labelled as CPU-accelerator timings
#   and are never GPU figures. More sections are added to benchmarks/MarketIntel.GpuBench/Program.cs and run here unchanged.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.device/gpu-bench

publish() {
  dotnet publish benchmarks/MarketIntel.GpuBench -c Release -r linux-x64 --self-contained -o "$out" -v q -nologo >/dev/null
  tar -C .device -czf .device/gpu-bench.tar.gz gpu-bench
  echo "published $out ($(du -sh "$out" | cut -f1)) and .device/gpu-bench.tar.gz ($(du -sh .device/gpu-bench.tar.gz | cut -f1))"
}

if [ "${1:-}" = publish ]; then
  publish
  exit 0
fi
if [ ! -x "$out/MarketIntel.GpuBench" ]; then
  if [ -f .device/gpu-bench.tar.gz ]; then
    tar -C .device -xzf .device/gpu-bench.tar.gz
  elif command -v dotnet >/dev/null; then
    publish
  else
    echo "run.sh: no $out and no .device/gpu-bench.tar.gz; run 'benchmarks/gpu/run.sh publish' where .NET is installed and carry .device/gpu-bench.tar.gz" >&2
    exit 2
  fi
fi
case " $* " in *" --device "*) ;; *) set -- --device cuda "$@" ;; esac
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
if command -v nvidia-smi >/dev/null; then
  echo "gpu: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1)"
fi
# Invariant globalization: the self-contained build needs no ICU on the device machine.
DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 "$out/MarketIntel.GpuBench" "$@"
