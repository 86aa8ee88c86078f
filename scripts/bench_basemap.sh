#!/usr/bin/env bash
# Basemap tiles per second: cold (drawn on the GPU adapter the server finds) and cached (served
# from memory over HTTP on loopback), with nginx serving the same PNG files from the disk cache
# as the peer, printed as a table. Bounded: at most MAX_TILES tiles (default 300), SECS seconds
# per wrk run (default 10).
#   scripts/bench_basemap.sh [TWIN_DIR] [SECS]       (default: data/hue)
#   PROFILE=debug scripts/bench_basemap.sh           (the debug binary; numbers not comparable)
# Tiles: zooms ZOOMS (default 12-16) over the twin's bounds from /basemap/tilejson.json, in
# that order, cut at MAX_TILES. Installs wrk, nginx and curl (Debian packages) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

TWIN=${1:-data/hue}
SECS=${2:-10}
PROFILE=${PROFILE:-release}
MAX_TILES=${MAX_TILES:-300}
ZOOMS=${ZOOMS:-12-16}
PAR=${PAR:-2}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
OUT=$TARGET/bench-basemap
PORT=18095
NGINX_PORT=18096

# shellcheck source=apt.sh
source scripts/apt.sh
apt_ensure wrk nginx curl

if [[ $PROFILE == release ]]; then
  cargo build --release -p twin-cli
else
  cargo build -p twin-cli
fi
TWINBIN=$TARGET/$PROFILE/twin
[[ -f "$TWIN/twin.gpkg" ]] || "$TWINBIN" build "$TWIN"

rm -rf "$OUT"
mkdir -p "$OUT/nginx-tmp"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -f "$OUT/nginx.pid" ]] && kill "$(cat "$OUT/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT

# Cold: an empty cache folder and a fresh process.
rm -rf "$TWIN"/cache/tiles/basemap-*
RUST_LOG=${RUST_LOG:-info} "$TWINBIN" serve "$TWIN" --addr "127.0.0.1:$PORT" >"$OUT/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/basemap/tilejson.json" >"$OUT/tilejson.json"
python3 - "$OUT/tilejson.json" "$ZOOMS" "$MAX_TILES" >"$OUT/paths.txt" <<'PY'
import json, math, sys
tj = json.load(open(sys.argv[1]))
w, s, e, n = tj["bounds"]
z0, z1 = map(int, sys.argv[2].split("-"))
cap = int(sys.argv[3])
def xy(lon, lat, z):
    k = 2 ** z
    return int((lon + 180) / 360 * k), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * k)
out = []
for z in range(z0, z1 + 1):
    (xa, ya), (xb, yb) = xy(w, n, z), xy(e, s, z)
    out += [f"/basemap/{z}/{x}/{y}.png" for y in range(ya, yb + 1) for x in range(xa, xb + 1)]
print("\n".join(out[:cap]))
PY
N=$(wc -l <"$OUT/paths.txt")
echo "bench: $N basemap tiles (zooms $ZOOMS, at most $MAX_TILES) of $TWIN" >&2

# The first tile opens the GPU device: timed apart.
first=$(head -1 "$OUT/paths.txt")
open_s=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$PORT$first")
start=$(date +%s.%N)
tail -n +2 "$OUT/paths.txt" | sed "s|^|http://127.0.0.1:$PORT|" |
  xargs -P "$PAR" -I{} curl -s -o /dev/null -w "%{http_code} %{time_total}\n" {} >"$OUT/cold.txt"
end=$(date +%s.%N)
cold_tps=$(awk -v a="$start" -v b="$end" -v n="$((N - 1))" 'BEGIN { printf "%.1f", n / (b - a) }')
cold_lat=$(awk '{print $2}' "$OUT/cold.txt" | sort -g | awk '{v[NR]=$1} END {
  printf "p50 %.0f ms, p99 %.0f ms", v[int((NR-1)*0.5)+1]*1000, v[int((NR-1)*0.99)+1]*1000 }')
codes=$(awk '{print $1}' "$OUT/cold.txt" | sort | uniq -c | tr '\n' ' ')
adapter=$(grep -o 'basemap tiles drawn on .*' "$OUT/serve.log" | head -1 | sed 's/\x1b\[[0-9;]*m//g' || true)

# Cached: wrk cycles over the same paths (memory cache); nginx serves the disk cache's files.
cat >"$OUT/paths.lua" <<EOF
local paths = {}
for line in io.lines("$OUT/paths.txt") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
EOF
wrk -t2 -c32 -d"${SECS}s" --latency -s "$OUT/paths.lua" "http://127.0.0.1:$PORT" >"$OUT/wrk-twin.txt" 2>&1
cache_dir=$(ls -d "$TWIN"/cache/tiles/basemap-* | head -1)
NGINX_USER=""
[[ $(id -u) -eq 0 ]] && NGINX_USER="user $(id -un) $(id -gn);"
cat >"$OUT/nginx.conf" <<EOF
$NGINX_USER
worker_processes auto;
pid $OUT/nginx.pid;
error_log $OUT/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off; sendfile on; keepalive_requests 100000;
  open_file_cache max=10000 inactive=60s;
  types { image/png png; }
  client_body_temp_path $OUT/nginx-tmp/body; proxy_temp_path $OUT/nginx-tmp/proxy;
  fastcgi_temp_path $OUT/nginx-tmp/fastcgi; uwsgi_temp_path $OUT/nginx-tmp/uwsgi;
  scgi_temp_path $OUT/nginx-tmp/scgi;
  server { listen 127.0.0.1:$NGINX_PORT; root $(realpath "$cache_dir"); }
}
EOF
nginx -e "$OUT/nginx-error.log" -p "$OUT" -c "$OUT/nginx.conf"
sleep 0.5
wrk -t2 -c32 -d"${SECS}s" --latency -s "$OUT/paths.lua" "http://127.0.0.1:$NGINX_PORT" >"$OUT/wrk-nginx.txt" 2>&1
rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
p99() { awk '$1 == "99%" {print $2}' "$1"; }
non2xx() { awk '/Non-2xx/ {print $NF}' "$1"; }

echo
echo "basemap tiles of $TWIN: $N tiles, zooms $ZOOMS, $(nproc) cores; ${adapter:-adapter: see $OUT/serve.log}"
printf "%-34s %12s %s\n" "what" "tiles/s" "latency"
printf "%-34s %12s %s\n" "cold, twin serve (render + PNG)" "$cold_tps" "$cold_lat ($PAR at once; first tile with device $(awk -v s="$open_s" 'BEGIN{printf "%.2f s", s}'); status $codes)"
printf "%-34s %12s %s\n" "cached, twin serve (memory)" "$(rps "$OUT/wrk-twin.txt")" "p99 $(p99 "$OUT/wrk-twin.txt") (wrk -t2 -c32 ${SECS}s; non-2xx responses: $(non2xx "$OUT/wrk-twin.txt"))"
printf "%-34s %12s %s\n" "peer: nginx, same PNGs from disk" "$(rps "$OUT/wrk-nginx.txt")" "p99 $(p99 "$OUT/wrk-nginx.txt") (wrk -t2 -c32 ${SECS}s)"
echo "raw: $OUT/cold.txt, $OUT/wrk-*.txt"
