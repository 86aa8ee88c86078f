#!/usr/bin/env bash
# GPU flood solver on an NVIDIA card: cell updates per second and the share of the card's peak
# memory bandwidth it uses (bytes moved per cell update x updates/s / peak bandwidth).
#   scripts/bench_flood_gpu.sh [N] [DURATION_S]
#   PEAK_GBPS=3350 scripts/bench_flood_gpu.sh   # give the peak bandwidth (GB/s) by hand
#   FLOOD_BENCH_BIN=path/to/flood_bench scripts/bench_flood_gpu.sh   # a binary built elsewhere
# The peak comes from PEAK_GBPS, else from the card's name (nvidia-smi) in the table below
# (vendor datasheet figures), else from nvidia-smi's max memory clock and a bus width given as
# BUS_BITS.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-2000}"
DURATION="${2:-120}"
TARGET="${CARGO_TARGET_DIR:-target}"

BIN="${FLOOD_BENCH_BIN:-}"
if [[ -z "$BIN" ]]; then
  cargo build --release -q -p renderer --example flood_bench
  BIN="$TARGET/release/examples/flood_bench"
fi

NAME=""
if command -v nvidia-smi >/dev/null; then
  NAME="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
  MEMCLK="$(nvidia-smi --query-gpu=clocks.max.memory --format=csv,noheader,nounits | head -1)"
  echo "card: $NAME (max memory clock ${MEMCLK} MHz)"
else
  echo "nvidia-smi not found: give PEAK_GBPS" >&2
fi
# Pick the NVIDIA adapter if several are present.
export HUETWIN_GPU_ADAPTER="${HUETWIN_GPU_ADAPTER:-nvidia}"

peak="${PEAK_GBPS:-}"
if [[ -z "$peak" ]]; then
  case "$NAME" in
    *H200*) peak=4800 ;;
    *H100*PCIe*) peak=2000 ;;
    *H100*NVL*) peak=3900 ;;
    *H100*) peak=3350 ;;
    *A100*80GB*PCIe*) peak=1935 ;;
    *A100*80GB*) peak=2039 ;;
    *A100*) peak=1555 ;;
    *L40S*|*L40*) peak=864 ;;
    *L4*) peak=300 ;;
    *A10G*|*A10*) peak=600 ;;
    *V100*) peak=900 ;;
    *T4*) peak=320 ;;
    *"RTX 4090"*) peak=1008 ;;
    *"RTX 3090"*) peak=936 ;;
  esac
fi
if [[ -z "$peak" && -n "${BUS_BITS:-}" && -n "${MEMCLK:-}" ]]; then
  # DDR: two transfers per clock.
  peak=$(python3 -c "print(${MEMCLK} * 1e6 * 2 * ${BUS_BITS} / 8 / 1e9)")
fi

line="$("$BIN" --n "$N" --duration "$DURATION" --solvers gpu | grep '^solver=gpu')"
echo "$line"
python3 - "$line" "${peak:-}" <<'PY'
import re, sys
kv = {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', sys.argv[1])}
if "error" in kv:
    sys.exit(f"GPU solver failed: {kv['error']}")
ups = float(kv["updates_per_s"])
b = float(kv["bytes_per_update"])
print(f"device: {kv['device']}")
print(f"grid {kv['cells']} cells, {kv['steps']} steps in {float(kv['wall_s']):.2f} s")
print(f"cell updates/s: {ups:.3e}")
print(f"bytes per cell update (estimate, wet fraction {kv['wet_fraction']}): {b:.0f}")
gbps = ups * b / 1e9
print(f"memory traffic: {gbps:.1f} GB/s")
peak = sys.argv[2]
if peak:
    print(f"peak bandwidth: {float(peak):.0f} GB/s -> {100 * gbps / float(peak):.1f} % of peak")
else:
    print("peak bandwidth unknown: set PEAK_GBPS (GB/s)")
PY
