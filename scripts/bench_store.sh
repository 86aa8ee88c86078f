#!/usr/bin/env bash
# Store benchmark (issue 19, docs/adr/0028): the Huế OSM extract imported into PostGIS against
# GeoPackage (the store's write transaction: seconds and features/s; the PBF parse, the same
# for both, shown apart), the whole twin loaded back, and bbox queries (300 m boxes over the
# buildings, QUERIES of them) p50/p99 on each store. Peer: GDAL's ogr2ogr loading the same
# extract (its own OSM layers, reprojected to EPSG:32648) into each, parse included.
# A throwaway PostgreSQL 15 + PostGIS cluster (scripts/pg.sh) with fsync and synchronous_commit
# on; an fsync costs about 0.04 ms on these disks (DESIGN.md).
#   scripts/bench_store.sh [SOURCE]        (default ../shared/data/hue/hue.osm.pbf)
#   PROFILE=dev scripts/bench_store.sh     (a debug build of twin-core, dependencies optimised)
#   QUERIES=500 (default)
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${1:-../shared/data/hue/hue.osm.pbf}
PROFILE=${PROFILE:-release}
QUERIES=${QUERIES:-500}
CRS=EPSG:32648

# shellcheck source=pg.sh
source scripts/pg.sh
apt_ensure gdal-bin >&2
pg_start
OUT=$(mktemp -d /tmp/huetwin-bench-store.XXXXXX)
trap 'pg_stop; rm -rf "$OUT"' EXIT

cargo build --profile "$PROFILE" -q -p twin-core --example store_bench
dir=$PROFILE
[[ $PROFILE == dev ]] && dir=debug
BIN=${CARGO_TARGET_DIR:-target}/$dir/examples/store_bench

for db in bench ogr; do
  psql_ -d postgres -c "CREATE DATABASE $db"
  psql_ -d "$db" -c "CREATE EXTENSION postgis"
done

read -r g_n g_parse g_write g_load g_p50 g_p99 g_hits < <("$BIN" "$SRC" "$OUT/bench.gpkg" "$CRS" "$QUERIES")
read -r p_n p_parse p_write p_load p_p50 p_p99 p_hits < <("$BIN" "$SRC" "postgres://postgres@127.0.0.1:$PG_PORT/bench" "$CRS" "$QUERIES")

now() { date +%s.%N; }
t0=$(now)
ogr2ogr -q -f GPKG -t_srs "$CRS" "$OUT/ogr.gpkg" "$SRC"
t1=$(now)
PGCONN="PG:host=127.0.0.1 port=$PG_PORT user=postgres dbname=ogr"
ogr2ogr -q -f PostgreSQL -t_srs "$CRS" "$PGCONN" "$SRC"
t2=$(now)
count() { ogrinfo -ro -so -al "$1" 2>/dev/null | awk -F': ' '/^Feature Count/ {n += $2} END {print n + 0}'; }
o_gpkg_n=$(count "$OUT/ogr.gpkg")
o_pg_n=$(count "$PGCONN")

rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "-" }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
og=$(secs "$t0" "$t1")
op=$(secs "$t1" "$t2")

echo "store benchmark: $SRC -> $CRS, profile $PROFILE, $QUERIES bbox queries of 300 m"
printf '%-22s %9s %8s %8s %11s %7s %9s %9s %7s\n' store features "parse s" "write s" "features/s" "load s" "q p50 ms" "q p99 ms" "hits"
printf '%-22s %9s %8s %8s %11s %7s %9s %9s %7s\n' "huetwin GeoPackage" "$g_n" "$g_parse" "$g_write" "$(rate "$g_n" "$g_write")" "$g_load" "$g_p50" "$g_p99" "$g_hits"
printf '%-22s %9s %8s %8s %11s %7s %9s %9s %7s\n' "huetwin PostGIS" "$p_n" "$p_parse" "$p_write" "$(rate "$p_n" "$p_write")" "$p_load" "$p_p50" "$p_p99" "$p_hits"
printf '%-22s %9s %8s %8s %11s %7s %9s %9s %7s\n' "ogr2ogr -> GPKG (peer)" "$o_gpkg_n" "(incl.)" "$og" "$(rate "$o_gpkg_n" "$og")" "-" "-" "-" "-"
printf '%-22s %9s %8s %8s %11s %7s %9s %9s %7s\n' "ogr2ogr -> PG (peer)" "$o_pg_n" "(incl.)" "$op" "$(rate "$o_pg_n" "$op")" "-" "-" "-" "-"
echo "write s: huetwin's store transaction only (parse apart); ogr2ogr's seconds include its parse."
