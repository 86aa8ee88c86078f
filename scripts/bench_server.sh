#!/usr/bin/env bash
# Load benchmark of `twin serve` against nginx on loopback, bounded in time (about a minute).
#   scripts/bench_server.sh [TWIN_DIR] [SECONDS]      (default: data/hue, 10 s per wrk run)
#
# 1. exports the twin's tiles with `twin tiles export` into target/bench-server/export
#    ($CARGO_TARGET_DIR/bench-server when that is set);
# 2. cold: starts `twin serve` with an empty tile cache and fetches every tile once with curl
#    (on-demand generation): p50/p99 latency;
# 3. cached: wrk cycles over the same tile paths against `twin serve` (warm memory cache) and
#    against nginx serving the exported folder (config in target/bench-server/nginx.conf),
#    alternating, ROUNDS times (default 3) in the same run: the median requests/s and p99 of
#    each, and the ratio of the medians (a loaded 2-core machine swings single runs by ±30 %).
# Installs wrk and nginx (Debian packages) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

TWIN=${1:-data/hue}
SECS=${2:-10}
ROUNDS=${ROUNDS:-3}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
OUT=$TARGET/bench-server
TWIN_PORT=18090
NGINX_PORT=18091
CONNS=32
THREADS=2

# shellcheck source=apt.sh
source scripts/apt.sh
apt_ensure wrk nginx curl

cargo build --release -p twin-cli
TWINBIN=$TARGET/release/twin
[[ -f "$TWIN/twin.gpkg" ]] || "$TWINBIN" build "$TWIN"

rm -rf "$OUT"
mkdir -p "$OUT/nginx-tmp"
"$TWINBIN" tiles export "$TWIN" "$OUT/export" >/dev/null
(cd "$OUT/export" && find . -type f | sed 's|^\./|/|' | sort) >"$OUT/files.txt"
sed 's|^|/tiles|' "$OUT/files.txt" >"$OUT/twin-paths.txt"
grep '\.glb$' "$OUT/twin-paths.txt" >"$OUT/twin-glb.txt"
N=$(wc -l <"$OUT/files.txt")
echo "bench: $N files ($(grep -c '\.glb$' "$OUT/files.txt") glb) exported from $TWIN"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -f "$OUT/nginx.pid" ]] && kill "$(cat "$OUT/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT

wait_up() { # url
  for _ in $(seq 100); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "bench: $1 did not come up" >&2
  return 1
}

# --- twin serve, cold: an empty disk cache and a fresh process.
rm -rf "$TWIN/cache/tiles"
"$TWINBIN" serve "$TWIN" --addr "127.0.0.1:$TWIN_PORT" >"$OUT/twin-serve.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$TWIN_PORT/healthz"
: >"$OUT/cold.txt"
while read -r p; do
  curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$TWIN_PORT$p" >>"$OUT/cold.txt"
done <"$OUT/twin-glb.txt"
cold=$(sort -g "$OUT/cold.txt" | awk '{v[NR]=$1} END {
  p50=v[int((NR-1)*0.50)+1]; p99=v[int((NR-1)*0.99)+1];
  printf "%d tiles, p50 %.1f ms, p99 %.1f ms, max %.1f ms", NR, p50*1000, p99*1000, v[NR]*1000 }')
echo "bench: cold on-demand tiles: $cold"

# Every tile and tileset once more, so the memory cache holds them all.
while read -r p; do curl -s -o /dev/null "http://127.0.0.1:$TWIN_PORT$p"; done <"$OUT/twin-paths.txt"

# --- nginx over the exported folder.
# Started as root, nginx runs its workers as `nobody`, who cannot enter a checkout under a
# private home folder (/root, a 0700 /home/user): every file was "403 Permission denied".
# The workers run as the invoking user instead (the directive only applies to a root master).
NGINX_USER=""
[[ $(id -u) -eq 0 ]] && NGINX_USER="user $(id -un) $(id -gn);"
cat >"$OUT/nginx.conf" <<EOF
$NGINX_USER
worker_processes auto;
pid $OUT/nginx.pid;
error_log $OUT/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  open_file_cache max=10000 inactive=60s;
  types { application/json json; model/gltf-binary glb; }
  client_body_temp_path $OUT/nginx-tmp/body;
  proxy_temp_path $OUT/nginx-tmp/proxy;
  fastcgi_temp_path $OUT/nginx-tmp/fastcgi;
  uwsgi_temp_path $OUT/nginx-tmp/uwsgi;
  scgi_temp_path $OUT/nginx-tmp/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $OUT/export;
    add_header Access-Control-Allow-Origin *;
  }
}
EOF
chmod -R o+rX "$OUT"
nginx -e "$OUT/nginx-error.log" -p "$OUT" -c "$OUT/nginx.conf"
# Up once it answers at all; then every file must be readable (200), not 403.
for _ in $(seq 100); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NGINX_PORT/tileset.json" || true)
  [[ $code != 000 ]] && break
  sleep 0.1
done
first_glb=$(grep -m1 '\.glb$' "$OUT/files.txt")
for f in /tileset.json "$first_glb"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NGINX_PORT$f" || true)
  if [[ $code != 200 ]]; then
    echo "bench: nginx answers $code for $f: its workers cannot read $OUT/export (as $(id -un)?); last error: $(tail -1 "$OUT/nginx-error.log" 2>/dev/null)" >&2
    exit 1
  fi
done

# wrk cycling over a list of paths.
make_lua() { # paths-file lua-file
  cat >"$2" <<EOF
local paths = {}
for line in io.lines("$1") do paths[#paths + 1] = line end
local i = math.random(#paths)
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
EOF
}
make_lua "$OUT/twin-glb.txt" "$OUT/twin.lua"
grep '\.glb$' "$OUT/files.txt" >"$OUT/nginx-glb.txt"
make_lua "$OUT/nginx-glb.txt" "$OUT/nginx.lua"

run_wrk() { # name url lua
  wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency -s "$3" "$2" >"$OUT/wrk-$1.txt" 2>&1
  local rps p99 mbs
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$OUT/wrk-$1.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$OUT/wrk-$1.txt")
  mbs=$(awk '/^Transfer\/sec:/ {print $2}' "$OUT/wrk-$1.txt")
  echo "$1 $rps $p99 $mbs"
}
# Warm both (page cache, nginx open_file_cache), then measure.
wrk -t1 -c4 -d2s -s "$OUT/twin.lua" "http://127.0.0.1:$TWIN_PORT" >/dev/null 2>&1
wrk -t1 -c4 -d2s -s "$OUT/nginx.lua" "http://127.0.0.1:$NGINX_PORT" >/dev/null 2>&1
t_all=(); n_all=(); tp_all=(); np_all=()
for r in $(seq "$ROUNDS"); do
  read -r _ rps p99 t_mbs < <(run_wrk "twin-serve-$r" "http://127.0.0.1:$TWIN_PORT" "$OUT/twin.lua")
  t_all+=("$rps"); tp_all+=("$p99")
  read -r _ rps p99 n_mbs < <(run_wrk "nginx-$r" "http://127.0.0.1:$NGINX_PORT" "$OUT/nginx.lua")
  n_all+=("$rps"); np_all+=("$p99")
  echo "round $r: twin serve ${t_all[-1]} req/s, nginx ${n_all[-1]} req/s" >&2
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
# p99 values carry units (us/ms/s): take the one of the median round by position.
t_rps=$(median "${t_all[@]}"); n_rps=$(median "${n_all[@]}")
t_p99=$(for i in "${!t_all[@]}"; do echo "${t_all[$i]} ${tp_all[$i]}"; done | sort -g | awk -v m="$t_rps" '$1 == m {print $2; exit}')
n_p99=$(for i in "${!n_all[@]}"; do echo "${n_all[$i]} ${np_all[$i]}"; done | sort -g | awk -v m="$n_rps" '$1 == m {print $2; exit}')
hits=$(curl -s "http://127.0.0.1:$TWIN_PORT/metrics" | awk '/^huetwin_tile_cache_lookups_total\{tier="memory"\}/ {print $2}')

ratio=$(awk -v a="$t_rps" -v b="$n_rps" 'BEGIN { printf "%.2f", a / b }')
echo
echo "cached glb tiles, wrk -t$THREADS -c$CONNS -d${SECS}s on loopback ($(nproc) cores shared by server and wrk), $(grep -c . "$OUT/twin-glb.txt") tiles cycled, median of $ROUNDS alternating rounds"
echo "  twin serve rounds: ${t_all[*]}"
echo "  nginx rounds:      ${n_all[*]}"
printf "%-12s %12s %10s %12s\n" server "requests/s" p99 "transfer/s (last round)"
printf "%-12s %12s %10s %12s\n" "twin serve" "$t_rps" "$t_p99" "$t_mbs"
printf "%-12s %12s %10s %12s\n" nginx "$n_rps" "$n_p99" "$n_mbs"
echo "twin serve / nginx = $ratio (median / median; goal >= 0.8); memory cache hits: ${hits:-?}"
echo "cold on-demand tiles (twin serve, empty cache): $cold"
echo "raw outputs: $OUT/wrk-*.txt, $OUT/cold.txt"
