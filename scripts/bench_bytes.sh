#!/usr/bin/env bash
# Bytes a building on the wire, in one table: huetwin's compact tiles (the default), its plain
# tiles (--plain) and gltfpack 1.3 `-cc` (npm, installed under the cargo target folder) run on
# each plain tile, raw and gzipped, with the export time of each huetwin form; for the real
# Hue OSM buildings, the sample twin's buildings and heritage, and N synthetic buildings. Then,
# for implicit tiling (`--implicit`, ADR 0017) on the N-building city beside the explicit form:
# tileset.json bytes and the time to the first tile from a fresh server (the tile-server
# example first_tile: planning, the server's start, then tileset.json, the root subtree and the
# first tile over HTTP on loopback).
#
#   scripts/bench_bytes.sh [N_SYNTHETIC (1000000)]
#
# SYNTHETIC_ONLY=1 skips the Hue OSM and sample twin rows (and building the twin binary).
# PROFILE=debug uses a debug build (quicker to build, slower to run). gltfpack keeps
# EXT_mesh_features ids but drops EXT_structural_metadata; huetwin keeps both.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
PROFILE=${PROFILE:-release}
T=${CARGO_TARGET_DIR:-target}
B="$T/bench-bytes"
mkdir -p "$B"
flag=()
[[ $PROFILE == release ]] && flag=(--release)
echo "== building ($PROFILE)" >&2
SYNTHETIC_ONLY=${SYNTHETIC_ONLY:-0}
[[ $SYNTHETIC_ONLY == 1 ]] || cargo build "${flag[@]}" -q -p twin-cli --bin twin
cargo build "${flag[@]}" -q -p tiles3d --example tiles_bench
cargo build "${flag[@]}" -q -p tile-server --example first_tile
TWIN="$T/$PROFILE/twin"
BENCH="$T/$PROFILE/examples/tiles_bench"
FIRST="$T/$PROFILE/examples/first_tile"
if [[ ! -x "$B/node/node_modules/.bin/gltfpack" ]]; then
  echo "== gltfpack 1.3.0 from npm into $B/node" >&2
  npm install --prefix "$B/node" --no-audit --no-fund --loglevel=error gltfpack@1.3.0 >&2
fi
GLTFPACK="$B/node/node_modules/.bin/gltfpack"

rm -rf "$B/out"
if [[ $SYNTHETIC_ONLY != 1 ]]; then
echo "== inputs" >&2
rm -rf "$B/hue" "$B/sample"
"$TWIN" import ../shared/data/hue/hue.osm.pbf --into "$B/hue" >/dev/null 2>&1
cp -r data/hue "$B/sample"
rm -rf "$B/sample/cache" "$B/sample/runs"
"$TWIN" build "$B/sample" >/dev/null 2>&1
fi

# bytes DIR: total bytes and gzipped bytes of every .glb under DIR.
bytes() {
  python3 - "$1" <<'PY'
import gzip, pathlib, sys
files = list(pathlib.Path(sys.argv[1]).rglob("*.glb"))
raw = sum(f.stat().st_size for f in files)
gz = sum(len(gzip.compress(f.read_bytes(), 6)) for f in files)
print(raw, gz, len(files))
PY
}

ROWS=()
# row NAME FEATURES COMPACT_DIR PLAIN_DIR COMPACT_S PLAIN_S: one line of the table.
row() {
  local name=$1 n=$2 c=$3 p=$4 cs=$5 ps=$6
  read -r craw cgz files <<<"$(bytes "$c")"
  read -r praw pgz _ <<<"$(bytes "$p")"
  local g="$B/out/gltfpack-$RANDOM"
  mkdir -p "$g"
  local t0 t1
  t0=$(date +%s.%N)
  while IFS= read -r f; do
    rel=${f#"$p"/}
    mkdir -p "$g/$(dirname "$rel")"
    "$GLTFPACK" -i "$f" -o "$g/$rel" -cc >/dev/null 2>&1 || { echo "gltfpack failed on $f" >&2; exit 1; }
  done < <(find "$p" -name '*.glb')
  t1=$(date +%s.%N)
  read -r graw ggz _ <<<"$(bytes "$g")"
  per() { awk -v b="$1" -v n="$n" 'BEGIN {printf "%.0f", b / n}'; }
  ROWS+=("$(printf '%-26s %8s %6s | %7s %7s %7s | %7s %7s %7s | %7s %7s %7s' "$name" "$n" "$files" \
    "$(per "$praw")" "$(per "$craw")" "$(per "$graw")" "$(per "$pgz")" "$(per "$cgz")" "$(per "$ggz")" \
    "$ps" "$cs" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')")")
}

# export_both OUT CMD...: time CMD OUT/compact and TILES_PLAIN=1 CMD OUT/plain; sets CS and PS.
export_both() {
  local out=$1
  shift
  local t0 t1
  t0=$(date +%s.%N); "$@" "$out/compact" >/dev/null; t1=$(date +%s.%N)
  CS=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
  t0=$(date +%s.%N); TILES_PLAIN=1 "$@" "$out/plain" >/dev/null; t1=$(date +%s.%N)
  PS=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
}

if [[ $SYNTHETIC_ONLY != 1 ]]; then
echo "== Hue OSM buildings" >&2
export_both "$B/out/hue" "$BENCH" hue "$B/hue"
HUE_N=$("$TWIN" info "$B/hue" 2>/dev/null | awk '$1 == "buildings" {print $2; exit}')
row "Hue OSM buildings" "$HUE_N" "$B/out/hue/compact/buildings" "$B/out/hue/plain/buildings" "$CS" "$PS"
echo "== the sample twin" >&2
export_both "$B/out/sample" "$BENCH" hue "$B/sample"
SAMPLE_N=$("$TWIN" info "$B/sample" 2>/dev/null | awk '$1 == "buildings" {print $2; exit}')
HERITAGE_N=$("$TWIN" info "$B/sample" 2>/dev/null | awk '$1 == "heritage" {print $2; exit}')
row "sample twin buildings" "$SAMPLE_N" "$B/out/sample/compact/buildings" "$B/out/sample/plain/buildings" "$CS" "$PS"
row "sample twin heritage" "$HERITAGE_N" "$B/out/sample/compact/heritage" "$B/out/sample/plain/heritage" "-" "-"
fi
echo "== $N synthetic buildings" >&2
export_both "$B/out/synthetic" "$BENCH" synthetic "$N"
row "$N synthetic buildings" "$N" "$B/out/synthetic/compact/buildings" "$B/out/synthetic/plain/buildings" "$CS" "$PS"
SYN_CS=$CS SYN_PS=$PS
echo "== implicit and explicit tilesets of the $N synthetic buildings, first tile from a cold server" >&2
FIRST_OUT=$("$FIRST" "$N")

echo
echo "Bytes a feature (building or heritage site) of the tile content (.glb), $PROFILE build, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)."
echo "plain = huetwin --plain; compact = huetwin's default (meshopt + quantization, metadata kept); gltfpack = gltfpack 1.3 -cc on each plain tile (metadata dropped)."
echo "Export seconds: huetwin's whole export of the twin (every layer for the Hue twins) in each form; gltfpack's over the plain tiles."
printf '%-26s %8s %6s | %7s %7s %7s | %7s %7s %7s | %7s %7s %7s\n' case features tiles "plain" "compact" "gltfpk" "plain.gz" "cmp.gz" "gltf.gz" "plain s" "cmp s" "gltf s"
for r in "${ROWS[@]}"; do echo "$r"; done
echo
awk -v c="$SYN_CS" -v p="$SYN_PS" -v n="$N" 'BEGIN {printf "Export of the %s synthetic buildings: compact %.1f s, plain %.1f s, compact/plain %.2f (goal: at most 1.20).\n", n, c, p, c / p}'
echo
echo "The $N synthetic buildings served by a fresh server (tile-server example first_tile, memory cache, loopback):"
echo "first tile s = from the twin in memory to the first building tile's last byte: planning, the server's start (it also"
echo "makes every feature's GeoJSON), then tileset.json, for implicit the root subtree, and the first tile with content."
printf '%-9s %12s %8s %8s %8s %11s %12s %11s\n' form tileset.json tiles "plan s" "start s" "requests s" "first tile s" "tile bytes"
while read -r _ kv; do
  declare -A r=()
  for x in $kv; do r[${x%%=*}]=${x#*=}; done
  printf '%-9s %12s %8s %8s %8s %11s %12s %11s\n' "${r[form]}" "${r[tileset_json_bytes]}" "${r[tiles]}" \
    "${r[plan_s]}" "${r[start_s]}" "${r[requests_s]}" "${r[first_tile_s]}" "${r[first_bytes]}"
  unset r
done < <(grep '^RESULT' <<<"$FIRST_OUT")
