#!/usr/bin/env bash
# Frame time of the bevy desktop viewer (twin-viewer --bench) on the real Hue OSM twin at
# 1920x1080, headless, each frame read back so the GPU has finished it; beside it the
# renderer crate's own wgpu picture of the same Citadel view (`twin render`, one picture, its
# time including loading the twin), the peer on the same adapter.
#
#   scripts/bench_viewer_fps.sh [FRAMES (30)] [SIZE (1920x1080)]
#
# Adapter: whatever bevy picks (a GPU when there is one, else Mesa's lavapipe); WGPU_BACKEND and
# WGPU_ADAPTER_NAME choose one by hand (bevy reads them). PROFILE=release (default) or debug.
# The twin: ../shared/data/hue/hue.osm.pbf imported with the `twin` binary (EPSG:32648) and
# the sample twin's DEM (data/hue/dem.asc) as its terrain, kept under target/bench-viewer-fps.
set -euo pipefail
cd "$(dirname "$0")/.."
FRAMES="${1:-30}"
SIZE="${2:-1920x1080}"
PROFILE="${PROFILE:-release}"
T="${CARGO_TARGET_DIR:-target}"
B="$T/bench-viewer-fps"
PBF=../shared/data/hue/hue.osm.pbf
[[ -f "$PBF" ]] || { echo "bench_viewer_fps.sh: $PBF is missing" >&2; exit 1; }
flag=()
[[ "$PROFILE" == release ]] && flag=(--release)
nice -n 10 cargo build -q "${flag[@]}" -p twin-cli -p viewer
TWIN="$T/$PROFILE/twin"
VIEWER="$T/$PROFILE/twin-viewer"
mkdir -p "$B"
if [[ ! -f "$B/hue-osm/twin.gpkg" ]]; then
  rm -rf "$B/hue-osm"
  "$TWIN" import "$PBF" --into "$B/hue-osm" --crs EPSG:32648 >/dev/null
  "$TWIN" import data/hue/dem.asc --into "$B/hue-osm" --source-crs EPSG:32648 >/dev/null
fi
"$TWIN" info "$B/hue-osm" | head -20
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
rows=()
for preset in city citadel royal-axis; do
  line="$("$VIEWER" "$B/hue-osm" --preset "$preset" --size "$SIZE" --bench "$FRAMES" | grep '^frames=')"
  echo "$preset: $line"
  rows+=("$preset|$line")
done
t0=$(date +%s.%N)
"$TWIN" render "$B/hue-osm" --camera citadel --size "$SIZE" --out "$B/render_citadel.png" | tail -1
t1=$(date +%s.%N)
python3 - "$SIZE" "$t0" "$t1" "${rows[@]}" <<'PY'
import re, sys
size, t0, t1, *rows = sys.argv[1:]
print()
print(f"| view ({size}) | twin-viewer mean ms | median ms | p95 ms | fps | peer: twin render, 1 picture incl. load (s) | adapter |")
print("| --- | --- | --- | --- | --- | --- | --- |")
peer = float(t1) - float(t0)
for r in rows:
    name, line = r.split("|", 1)
    kv = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', line))
    p = f"{peer:.2f}" if name == "citadel" else ""
    print(f"| {name} | {kv['mean_ms']} | {kv['median_ms']} | {kv['p95_ms']} | {kv['fps']} | {p} | {kv['adapter'].strip(chr(34))} |")
PY
