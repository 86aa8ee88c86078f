#!/usr/bin/env bash
# CesiumJS on the implicit tileset of N synthetic buildings (1,000,000 by default): export it
# with the tiles3d example tiles_bench (TILES_IMPLICIT=1), serve the folder and the viewer's
# CesiumJS (web/vendor/cesium) from a static server on 127.0.0.1, run
# web/tests/implicit_city.mjs in Chromium, and check: no failed request or tile, subtrees and
# tiles requested, and the building picked near the screen centre is the synthetic building
# whose footprint holds the picked point (testkit::synthetic_buildings: building i centred on a
# 25 m grid of ceil(sqrt(N)) columns around UTM 48N (774000, 1822000), at most 20 m a side).
#
#   scripts/check_implicit_city.sh [N (1000000)]
#
# Needs scripts/setup.sh --test (Chromium, npm ci --prefix web, CesiumJS copied) and gdal-bin
# (gdaltransform). Exit status 1 when a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
T=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p tiles3d --example tiles_bench
work=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
echo "== implicit export of $N synthetic buildings" >&2
TILES_IMPLICIT=1 "$T/release/examples/tiles_bench" synthetic "$N" "$work/site/city" | grep '^RESULT' >&2
ln -s "$PWD/web/vendor/cesium" "$work/site/cesium"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/site" >"$work/http.log" 2>&1 &
server_pid=$!
sleep 1
echo "== CesiumJS in Chromium" >&2
result=$(cd web && node tests/implicit_city.mjs "http://127.0.0.1:$port" city/buildings/tileset.json)
echo "$result"
read -r lon lat < <(python3 -c 'import json,sys; p=json.loads(sys.argv[1])["pick"] or {}; print(p.get("lon", 0), p.get("lat", 0))' "$result")
read -r x y _ < <(echo "$lon $lat" | gdaltransform -s_srs EPSG:4326 -t_srs EPSG:32648 -output_xy)
python3 - "$result" "$N" "$x" "$y" "$(wc -c <"$work/site/city/buildings/tileset.json")" <<'PY'
import json, math, sys
r, n, x, y, tsb = json.loads(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
side = math.ceil(math.sqrt(n))
x0, y0 = 774_000.0 - side * 12.5, 1_822_000.0 - side * 12.5
ok = True
def check(cond, what):
    global ok
    print(("ok   " if cond else "FAIL ") + what)
    ok = ok and cond
check(not r["errors"] and not r.get("failed"), f"no failed request or tile: {r['errors']} {r.get('failed')}")
check(r["subtrees"] >= 1 and r["glbs"] >= 1, f"{r['subtrees']} subtree(s), {r['glbs']} tiles requested, {r.get('stats')}, loaded in {r.get('loaded_ms')} ms")
p = r.get("pick") or {}
i = int(str(p.get("id", "syn:-1")).split(":")[1])
cx, cy = x0 + (i % side) * 25.0, y0 + (i // side) * 25.0
check(i >= 0 and abs(x - cx) <= 10.0 and abs(y - cy) <= 10.0,
      f"picked {p.get('id')} (height {p.get('height')}) at UTM ({x:.1f}, {y:.1f}); its centre ({cx:.1f}, {cy:.1f})")
print(f"tileset.json: {tsb} bytes for {n} buildings")
sys.exit(0 if ok else 1)
PY
