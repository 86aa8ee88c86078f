#!/usr/bin/env bash
# Load check of `twin serve` on loopback: wrk at 64 connections for 30 s (each) on a cached tile
# and on a features query, then the same server's health; prints one table. Errors (socket
# errors, timeouts, non-2xx answers) must be 0. Bounded: about 70 s, ends by itself.
#   scripts/bench_load.sh [TWIN_DIR] [SECONDS] [CONNECTIONS]   (default: data/hue, 30, 64)
# Installs wrk and curl (Debian packages) when missing; builds the release `twin`.
set -euo pipefail
cd "$(dirname "$0")/.."

TWIN=${1:-data/hue}
SECS=${2:-30}
CONNS=${3:-64}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
OUT=$TARGET/bench-load
PORT=18092
THREADS=2

# shellcheck source=apt.sh
source scripts/apt.sh
apt_ensure wrk curl

cargo build --release -q -p twin-cli
TWINBIN=$TARGET/release/twin
[[ -f "$TWIN/twin.gpkg" ]] || "$TWINBIN" build "$TWIN"
mkdir -p "$OUT"

"$TWINBIN" serve "$TWIN" --addr "127.0.0.1:$PORT" >"$OUT/serve.log" 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 300); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  sleep 0.1
done
BASE="http://127.0.0.1:$PORT"
# A tile that exists: the first content URI of the buildings tileset.
TILE=$(curl -sf "$BASE/tiles/buildings/tileset.json" | grep -o '"uri": *"[^"]*"' | head -1 | sed 's/.*"\([^"]*\)"$/\1/')
TILE_URL="$BASE/tiles/buildings/$TILE"
FEAT_URL="$BASE/api/layers/buildings/features?bbox=107.57,16.46,107.58,16.47&limit=100"
curl -sf -o /dev/null "$TILE_URL" && curl -sf -o /dev/null "$FEAT_URL"

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
printf '%-10s %8s %10s %9s %9s %8s %9s %10s\n' case conns "req/s" "p50 ms" "p99 ms" errors non2xx "RSS MB"
for case in tile features; do
  url=$TILE_URL
  [[ $case == features ]] && url=$FEAT_URL
  wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency --timeout 10s "$url" >"$OUT/$case.txt" 2>&1
  rps=$(awk '/Requests\/sec/ {print $2}' "$OUT/$case.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$OUT/$case.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$OUT/$case.txt")
  errs=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$OUT/$case.txt")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$OUT/$case.txt")
  ms() { # wrk prints 1.23ms, 456.00us or 1.20s
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) n *= 1000; printf "%.2f", n }'
  }
  printf '%-10s %8s %10s %9s %9s %8s %9s %10.1f\n' "$case" "$CONNS" "$rps" "$(ms "$p50")" "$(ms "$p99")" \
    "${errs:-0}" "${non2xx:-0}" "$(awk -v k="$(rss_kb)" 'BEGIN { print k / 1024 }')"
done
curl -sf "$BASE/healthz" >/dev/null && echo "server still healthy after the load (PID $PID)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); full wrk output in $OUT"
