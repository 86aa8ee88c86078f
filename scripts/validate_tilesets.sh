#!/usr/bin/env bash
# The official CesiumGS 3d-tiles-validator on every kind of tileset huetwin writes, in both forms
# (compact: meshopt-compressed and quantized, the default; plain: `--plain`), in one table:
# buildings, heritage, terrain (the sample twin and the Hue OpenStreetMap extract), buildings and
# heritage as implicit tilesets (`--implicit`), point clouds
# (every LAS/LAZ file of ../shared/data/lidar, with their RGB and as coloured without it), and
# from a live server: a flood run's water surface and the building and heritage tiles with the
# run's results (`?run=<id>`).
#
#   scripts/validate_tilesets.sh
#
# The validator is not on npm: fetch github.com/CesiumGS/3d-tiles-validator, then
# ../shared/tools/build-3d-tiles-validator.sh <its git dir> builds it at
# ~/.cache/3d-tiles-validator (VALIDATOR=<path to build/main.js> to use another). It is never
# part of the repository. Exit status 1 when any tileset has errors.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
validator=${VALIDATOR:-$HOME/.cache/3d-tiles-validator/build/main.js}
if [[ ! -f $validator ]]; then
  echo "no 3d-tiles-validator at $validator: fetch CesiumGS/3d-tiles-validator and run" >&2
  echo "  ../shared/tools/build-3d-tiles-validator.sh <its git dir>   (or set VALIDATOR)" >&2
  exit 2
fi
target=${CARGO_TARGET_DIR:-$repo/target}
shared=$repo/../shared/data
(cd "$repo" && cargo build -q -p twin-cli)
twin=$target/debug/twin
work=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

rows=()
failed=0
# validate KIND SOURCE TILESET_JSON: one row of the table (the form is $form).
validate() {
  local kind=$1 source=$2 file=$3 report=$work/report-$RANDOM.json
  node "$validator" --tilesetFile "$file" --reportFile "$report" >/dev/null 2>&1 || true
  local counts
  counts=$(python3 - "$report" "$(dirname "$file")" <<'PY'
import json, sys, pathlib
r = json.load(open(sys.argv[1]))
files = sum(1 for _ in pathlib.Path(sys.argv[2]).rglob("*.glb"))
def types(sev):
    found = set()
    def walk(issues):
        for i in issues:
            if i.get("severity") == sev:
                found.add(i["type"])
            walk(i.get("causes", []))
    walk(r.get("issues", []))
    return ",".join(sorted(found)) or "-"
print(r["numErrors"], r["numWarnings"], r["numInfos"], files, types("ERROR") + " / " + types("INFO"))
PY
)
  read -r e w i n codes <<<"$counts"
  rows+=("$(printf '%-8s %-18s %-28s %6s %7s %8s %6s  %s' "$form" "$kind" "$source" "$n" "$e" "$w" "$i" "$codes")")
  [[ $e == 0 ]] || failed=1
}

cat >"$work/mirror.py" <<'PY'
# Post flood_alarm3, wait for it, then mirror the water tileset of its last output time and the
# buildings and heritage tilesets with ?run=<id> into folders the validator reads.
import json, posixpath, sys, time, pathlib, urllib.request
port, token, work = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
base = f"http://127.0.0.1:{port}"
def get(path):
    with urllib.request.urlopen(base + path, timeout=120) as r:
        return r.read()
for _ in range(300):
    try:
        get("/api/layers"); break
    except Exception:
        time.sleep(0.2)
req = urllib.request.Request(base + "/api/runs", data=json.dumps({"scenario": "flood_alarm3.toml"}).encode(),
                             headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
run = json.loads(urllib.request.urlopen(req, timeout=60).read())
rid = run["run"]["id"]
for _ in range(1800):
    st = json.loads(get(f"/api/runs/{rid}"))["run"]
    if st["status"] in ("done", "failed", "cancelled"):
        break
    time.sleep(1)
assert st["status"] == "done", st
def mirror(url_dir, query, out):
    """Fetch url_dir/tileset.json and every content it names (recursively) into out, the
    query dropped from the URIs written."""
    todo, seen = ["tileset.json"], set()
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        data = get(f"{url_dir}/{rel}{query}")
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".json"):
            doc = json.loads(data)
            here = posixpath.dirname(rel)
            def walk(t):
                c = t.get("content")
                if c:
                    c["uri"] = c["uri"].split("?")[0]
                    todo.append(posixpath.normpath(posixpath.join(here, c["uri"])))
                for ch in t.get("children", []):
                    walk(ch)
            walk(doc["root"])
            data = json.dumps(doc).encode()
        p.write_bytes(data)
    return len([s for s in seen if s.endswith(".glb")])
water = json.loads(get(f"/api/runs/{rid}/water"))
ts = water["times"][-1]["tileset"]
n = mirror(ts.rsplit("/", 1)[0], "", work / "water")
print(f"run {rid}: water at {ts}: {n} tiles")
for layer in ("buildings", "heritage"):
    n = mirror(f"/tiles/{layer}", f"?run={rid}", work / f"run-{layer}")
    print(f"run {rid}: {layer}?run: {n} tiles")
PY

echo "== inputs: the sample twin (data/hue), the Hue OSM extract, the LAS/LAZ files" >&2
cp -r "$repo/data/hue" "$work/sample"
rm -rf "$work/sample/cache" "$work/sample/runs"
"$twin" build "$work/sample" >/dev/null 2>&1
"$twin" import --into "$work/osm" --crs EPSG:32648 "$shared/hue/hue.osm.pbf" >/dev/null 2>&1
"$twin" import --into "$work/osm" --source-crs EPSG:32648 "$repo/data/hue/dem.asc" >/dev/null 2>&1
for f in "$shared"/lidar/*.la[sz]; do
  "$twin" import --into "$work/pc-$(basename "$f")" --crs EPSG:32610 "$f" >/dev/null 2>&1
done
token=$("$twin" token create "$work/sample" --role planner --name validate | grep -o 'ht_[A-Za-z0-9_]*' | head -1)

for form in compact plain; do
  flag=()
  [[ $form == plain ]] && flag=(--plain)
  out=$work/$form
  echo "== $form: exports" >&2
  "$twin" tiles export "$work/sample" "$out/sample" "${flag[@]}" >/dev/null 2>&1
  "$twin" tiles export "$work/osm" "$out/osm" "${flag[@]}" >/dev/null 2>&1
  for layer in buildings heritage terrain; do
    validate "$layer" "sample twin" "$out/sample/$layer/tileset.json"
  done
  for layer in buildings heritage terrain; do
    validate "$layer" "Hue OSM extract" "$out/osm/$layer/tileset.json"
  done
  # Implicit tiling (3D Tiles 1.1 quadtree with .subtree files) of the vector layers.
  "$twin" tiles export "$work/sample" "$out/sample-implicit" --implicit --layers buildings,heritage "${flag[@]}" >/dev/null 2>&1
  "$twin" tiles export "$work/osm" "$out/osm-implicit" --implicit --layers buildings,heritage "${flag[@]}" >/dev/null 2>&1
  for layer in buildings heritage; do
    validate "$layer/implicit" "sample twin" "$out/sample-implicit/$layer/tileset.json"
    validate "$layer/implicit" "Hue OSM extract" "$out/osm-implicit/$layer/tileset.json"
  done
  for f in "$shared"/lidar/*.la[sz]; do
    name=$(basename "$f")
    "$twin" tiles export "$work/pc-$name" "$out/pc-$name" "${flag[@]}" >/dev/null 2>&1
    validate pointclouds "$name" "$out/pc-$name/pointclouds/tileset.json"
  done
  echo "== $form: a flood run on a live server, its water surface and ?run= tiles" >&2
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  rm -rf "$work/sample/cache"
  "$twin" serve "$work/sample" --addr "127.0.0.1:$port" --scenarios "$repo/scenarios/examples/hue" \
    "${flag[@]}" >"$work/server-$form.log" 2>&1 &
  server_pid=$!
  python3 "$work/mirror.py" "$port" "$token" "$out" >&2
  kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
  server_pid=
  validate water "sample, flood_alarm3" "$out/water/tileset.json"
  validate "buildings?run" "sample, flood_alarm3" "$out/run-buildings/tileset.json"
  validate "heritage?run" "sample, flood_alarm3" "$out/run-heritage/tileset.json"
done

echo
echo "3d-tiles-validator $(cut -c1-10 "$(dirname "$validator")/../.source-commit" 2>/dev/null || echo '?')"
printf '%-8s %-18s %-28s %6s %7s %8s %6s  %s\n' form kind source tiles errors warnings infos "error / info codes"
printf '%s\n' "${rows[@]}"
exit $failed
