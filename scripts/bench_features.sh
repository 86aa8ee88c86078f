#!/usr/bin/env bash
# Load benchmark of the features API of `twin serve` on loopback (issue 20, defect 6): wrk at 64
# connections for 30 s on the same bounding-box query through the `/api` route and the OGC API
# Features items route, beside nginx serving the very same response bytes as a static file (the
# ceiling: no query, no copy). Prints one table: requests/s, p50/p99 latency, errors (socket
# errors, timeouts, non-2xx), the server's RSS before and after each run and its peak, and the
# load average before and after (the machine is shared: say it beside any figure).
#   scripts/bench_features.sh [TWIN_DIR] [SECONDS] [CONNECTIONS]   (default: data/hue, 30, 64)
# Bounded: about 100 s of load plus the build. Installs wrk, nginx and curl (Debian packages)
# when missing; builds the release `twin`.
set -euo pipefail
cd "$(dirname "$0")/.."

TWIN=${1:-data/hue}
SECS=${2:-30}
CONNS=${3:-64}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
OUT=$TARGET/bench-features
PORT=18093
NGINX_PORT=18094
THREADS=2
BBOX=107.57,16.46,107.58,16.47

# shellcheck source=apt.sh
source scripts/apt.sh
apt_ensure wrk nginx curl

cargo build --release -q -p twin-cli
TWINBIN=$TARGET/release/twin
[[ -f "$TWIN/twin.gpkg" ]] || "$TWINBIN" build "$TWIN"
rm -rf "$OUT"
mkdir -p "$OUT/static" "$OUT/nginx-tmp"

"$TWINBIN" serve "$TWIN" --addr "127.0.0.1:$PORT" >"$OUT/serve.log" 2>&1 &
PID=$!
cleanup() {
  kill "$PID" 2>/dev/null || true
  [[ -f "$OUT/nginx.pid" ]] && kill "$(cat "$OUT/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 600); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  sleep 0.1
done
BASE="http://127.0.0.1:$PORT"
API="/api/layers/buildings/features?bbox=$BBOX"
OGC="/ogc/collections/buildings/items?bbox=$BBOX&limit=100"

# The same features from both routes (the API's default page is 100).
curl -sf "$BASE$API" >"$OUT/static/api.json"
curl -sf "$BASE$OGC" >"$OUT/ogc.json"
count() { grep -o '"numberReturned":[0-9]*' "$1" | cut -d: -f2; }
echo "bench: $(count "$OUT/static/api.json") buildings per response ($(wc -c <"$OUT/static/api.json") bytes) from $API;" \
  "$(count "$OUT/ogc.json") from $OGC"

cat >"$OUT/nginx.conf" <<EOF
worker_processes 2;
pid $OUT/nginx.pid;
error_log $OUT/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  open_file_cache max=100 inactive=60s;
  types { application/geo+json json; }
  client_body_temp_path $OUT/nginx-tmp/body;
  proxy_temp_path $OUT/nginx-tmp/proxy;
  fastcgi_temp_path $OUT/nginx-tmp/fastcgi;
  uwsgi_temp_path $OUT/nginx-tmp/uwsgi;
  scgi_temp_path $OUT/nginx-tmp/scgi;
  server { listen 127.0.0.1:$NGINX_PORT; root $OUT/static; }
}
EOF
chmod -R o+rX "$OUT"
nginx -e "$OUT/nginx-error.log" -p "$OUT" -c "$OUT/nginx.conf"
for _ in $(seq 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT/api.json" && break
  sleep 0.1
done

kb() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$PID/status"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ms() { # wrk prints 1.23ms, 456.00us or 1.20s
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) n *= 1000; printf "%.2f", n }'
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores, shared by the server, wrk and nginx)"
printf '%-14s %6s %10s %9s %9s %7s %12s %12s %9s\n' route conns "req/s" "p50 ms" "p99 ms" errors \
  "RSS before" "RSS after" "peak MB"
for case in api-bbox ogc-items nginx-static; do
  case $case in
    api-bbox) url=$BASE$API ;;
    ogc-items) url=$BASE$OGC ;;
    nginx-static) url="http://127.0.0.1:$NGINX_PORT/api.json" ;;
  esac
  before=$(kb VmRSS)
  wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency --timeout 10s "$url" >"$OUT/$case.txt" 2>&1
  after=$(kb VmRSS)
  rps=$(awk '/Requests\/sec/ {print $2}' "$OUT/$case.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$OUT/$case.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$OUT/$case.txt")
  errs=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$OUT/$case.txt")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$OUT/$case.txt")
  rss_b="$(mb "$before")"
  rss_a="$(mb "$after")"
  if [[ $case == nginx-static ]]; then rss_b="-"; rss_a="-"; fi
  printf '%-14s %6s %10s %9s %9s %7s %12s %12s %9s\n' "$case" "$CONNS" "$rps" "$(ms "$p50")" "$(ms "$p99")" \
    "$((${errs:-0} + ${non2xx:-0}))" "$rss_b" "$rss_a" "$(mb "$(kb VmHWM)")"
done
curl -sf "$BASE/healthz" >/dev/null && echo "server still healthy after the load (PID $PID)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); RSS in MB of twin serve (peak: VmHWM so far); full wrk output in $OUT"
