#!/usr/bin/env bash
# The web viewer's first load on a throttled line (default 10 Mbit/s, 40 ms), in headless
# Chromium through the DevTools Protocol (web/tests/load.mjs): time to the first meaningful view
# (the globe and every tileset loaded for the opening camera) and bytes fetched by kind, then a
# returning browser's reload; for the Hue OSM twin served with compact tiles and with --plain.
#
#   scripts/bench_viewer.sh [MBIT (10)] [LATENCY_MS (40)]
#
# Needs scripts/setup.sh --test (chromium, npm ci --prefix web). PROFILE=debug for a debug
# build. WebGL is SwiftShader on the CPU here, so on a busy machine the time is the renderer's
# as much as the line's: the load average is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
MBIT=${1:-10}
LAT=${2:-40}
PROFILE=${PROFILE:-release}
T=${CARGO_TARGET_DIR:-target}
B="$T/bench-viewer"
mkdir -p "$B"
flag=()
[[ $PROFILE == release ]] && flag=(--release)
cargo build "${flag[@]}" -q -p twin-cli --bin twin
TWIN="$T/$PROFILE/twin"
if [[ ! -f "$B/hue/twin.gpkg" ]]; then
  rm -rf "$B/hue"
  "$TWIN" import ../shared/data/hue/hue.osm.pbf --into "$B/hue" >/dev/null 2>&1
fi
pid=
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null || true' EXIT
ROWS=()
for form in compact plain; do
  extra=()
  [[ $form == plain ]] && extra=(--plain)
  rm -rf "$B/hue/cache"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$TWIN" serve "$B/hue" --addr "127.0.0.1:$port" "${extra[@]}" >"$B/serve-$form.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.2
  done
  # Warm the server's tile cache first: the line, not tile generation, is measured.
  (cd web && node tests/load.mjs "http://127.0.0.1:$port/" --mbit 1000 --latency-ms 0 >/dev/null)
  out=$(cd web && node tests/load.mjs "http://127.0.0.1:$port/" --mbit "$MBIT" --latency-ms "$LAT" --repeat)
  echo "$out" >"$B/load-$form.json"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
  ROWS+=("$(python3 - "$form" "$out" <<'PY'
import json, sys
form, r = sys.argv[1], json.loads(sys.argv[2])
if "error" in r:
    print(f"{form:8} error: {r['error']}")
    sys.exit()
f, b = r["first"], r.get("returning", {})
kinds = sorted(f["bytes"].items(), key=lambda kv: -kv[1])
top = ", ".join(f"{k} {v/1e6:.2f}" for k, v in kinds)
print(f"{form:8} {f['ms']/1000:8.1f} {f['total']/1e6:8.2f} {f['buildings']:9d} {b.get('ms', 0)/1000:8.1f} {b.get('total', 0)/1e6:8.2f} {b.get('revalidated', 0):6d}   {top}")
PY
)")
done
echo
echo "Viewer load of the Hue OSM twin at $MBIT Mbit/s and $LAT ms, $PROFILE build, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)."
echo "first s = navigation to the globe and every tileset loaded for the opening camera; MB = on-the-wire bytes;"
echo "buildings = buildings in loaded tiles; returning = the same page reloaded with the cache kept (304 = revalidated)."
printf '%-8s %8s %8s %9s %8s %8s %6s   %s\n' form "first s" "MB" buildings "again s" "again MB" 304s "MB by kind (first load)"
for r in "${ROWS[@]}"; do echo "$r"; done
