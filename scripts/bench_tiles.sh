#!/usr/bin/env bash
# Benchmarks 3D Tiles export and prints a table:
#   - buildings/s and peak memory for the real Hue OSM import and for N synthetic buildings;
#   - points/s and peak memory against `py3dtiles convert` (PyPI, installed into a venv under the
#     cargo target folder) on the same M-point LAS file, generated here with laspy.
# Usage: scripts/bench_tiles.sh [N_BUILDINGS (1000000)] [M_POINTS (2000000)]
# Needs ../shared/data (the Hue extract), python3 with venv, /usr/bin/time. JOBS sets the
# py3dtiles worker count (default: all cores, as rayon uses for huetwin).
set -euo pipefail
cd "$(dirname "$0")/.."

NB=${1:-1000000}
NP=${2:-2000000}
JOBS=${JOBS:-$(nproc)}
T=${CARGO_TARGET_DIR:-target}
B="$T/bench-tiles"
mkdir -p "$B"

echo "== building (release)" >&2
cargo build --release -q -p twin-cli --bin twin
cargo build --release -q -p tiles3d --example tiles_bench
TWIN="$T/release/twin"
BENCH="$T/release/examples/tiles_bench"

echo "== py3dtiles into $B/venv" >&2
if [[ ! -x "$B/venv/bin/py3dtiles" ]]; then
  python3 -m venv "$B/venv"
  "$B/venv/bin/pip" install -q --upgrade pip
  "$B/venv/bin/pip" install -q "py3dtiles[las]"
fi
PY3DT_VERSION=$("$B/venv/bin/pip" show py3dtiles | awk '/^Version/ {print $2}')

echo "== inputs: Hue twin, $NP-point LAS" >&2
rm -rf "$B/hue"
"$TWIN" import ../shared/data/hue/hue.osm.pbf --into "$B/hue" >/dev/null
LAS="$B/points_$NP.las"
if [[ ! -f "$LAS" ]]; then
  "$B/venv/bin/python" - "$LAS" "$NP" <<'EOF'
import sys
import numpy as np
import laspy

path, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(7)
h = laspy.LasHeader(point_format=3, version="1.2")
h.scales = np.array([0.001, 0.001, 0.001])
h.offsets = np.array([774000.0, 1822000.0, 0.0])
las = laspy.LasData(h)
x = 774000.0 + rng.random(n) * 1000.0
y = 1822000.0 + rng.random(n) * 1000.0
las.x = x
las.y = y
las.z = 5.0 + 10.0 * np.sin(x / 40.0) * np.cos(y / 55.0) + rng.random(n) * 2.0
las.intensity = rng.integers(0, 4096, n, dtype=np.uint16)
las.classification = rng.choice(np.array([1, 2, 6], dtype=np.uint8), n)
las.red = rng.integers(0, 65536, n, dtype=np.uint16)
las.green = rng.integers(0, 65536, n, dtype=np.uint16)
las.blue = rng.integers(0, 65536, n, dtype=np.uint16)
las.write(path)
EOF
fi

ROWS=()
# run NAME TOOL ITEMS CMD...: wall time and peak RSS from /usr/bin/time, phases from RESULT.
run() {
  local name=$1 tool=$2 items=$3
  shift 3
  /usr/bin/time -f "%e %M" -o "$B/time.txt" "$@" >"$B/out.txt" 2>"$B/err.txt" || {
    cat "$B/err.txt" >&2
    exit 1
  }
  read -r wall kb <"$B/time.txt"
  local load=- tile=- loaded=-
  if grep -q '^RESULT' "$B/out.txt"; then
    loaded=$(sed -n 's/.* rss_loaded_mb=\([0-9.]*\).*/\1/p' "$B/out.txt")
    load=$(sed -n 's/.* load_s=\([0-9.]*\).*/\1/p' "$B/out.txt")
    tile=$(sed -n 's/.* tile_s=\([0-9.]*\).*/\1/p' "$B/out.txt")
    [[ "$items" == "?" ]] && items=$(sed -n 's/.* items=\([0-9]*\).*/\1/p' "$B/out.txt")
  fi
  local rate_tile=- rate_wall
  [[ "$tile" != "-" ]] && rate_tile=$(awk -v n="$items" -v t="$tile" 'BEGIN {printf "%.0f", n / t}')
  rate_wall=$(awk -v n="$items" -v t="$wall" 'BEGIN {printf "%.0f", n / t}')
  ROWS+=("$(printf '%-28s %-18s %9s %7s %7s %7s %12s %12s %10s %8.0f' "$name" "$tool" "$items" "$load" "$tile" "$wall" "$rate_tile" "$rate_wall" "$loaded" "$(awk -v k="$kb" 'BEGIN {print k / 1024}')")")
}

echo "== Hue OSM ($B/hue)" >&2
run "Hue OSM (all layers)" "huetwin" "?" "$BENCH" hue "$B/hue" "$B/out/hue"
HUE_ITEMS=$(sed -n 's/.* items=\([0-9]*\).*/\1/p' "$B/out.txt")
run "Hue OSM (CLI export)" "twin tiles export" "$HUE_ITEMS" "$TWIN" tiles export "$B/hue" "$B/out/hue-cli"
echo "== $NB synthetic buildings" >&2
run "$NB synthetic buildings" "huetwin" "$NB" "$BENCH" synthetic "$NB" "$B/out/synthetic"
echo "== $NP points: huetwin" >&2
run "$NP-point LAS" "huetwin" "$NP" "$BENCH" las "$LAS" EPSG:32648 "$B/out/las-huetwin"
echo "== $NP points: py3dtiles $PY3DT_VERSION" >&2
rm -rf "$B/out/las-py3dtiles"
run "$NP-point LAS" "py3dtiles $PY3DT_VERSION" "$NP" "$B/venv/bin/py3dtiles" convert "$LAS" \
  --out "$B/out/las-py3dtiles" --overwrite --srs_in 32648 --srs_out 4978 --jobs "$JOBS" \
  --spec-version 1.1 --extra-fields intensity --extra-fields classification

echo
echo "3D Tiles export on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))."
echo "load = read the twin store or import the LAS file; tile = plan + write every tile; items = buildings or points"
echo "(Hue OSM: buildings; heritage sites are tiled too); loaded MB = resident memory before tiling; peak MB = max RSS."
printf '%-28s %-18s %9s %7s %7s %7s %12s %12s %10s %8s\n' case tool items "load s" "tile s" "wall s" "items/s tile" "items/s wall" "loaded MB" "peak MB"
for r in "${ROWS[@]}"; do echo "$r"; done
