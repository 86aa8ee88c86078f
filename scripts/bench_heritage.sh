#!/usr/bin/env bash
# Issue 16's heritage benchmarks in one run: sightline rays per second against the real Huế OSM
# city (heritage::sight's BVH), with brute force over every triangle beside it (goal 10 M rays/s
# on 2 cores); then a 1000 x 1000 viewshed against gdal_viewshed's time on the same grid.
#   scripts/bench_heritage.sh [rays]      (RAYON_NUM_THREADS=2 by default)
# Built in the release profile (about 5 minutes the first time): the dev profile keeps debug
# assertions, which cost the ray walk about a third of its speed.
set -euo pipefail
cd "$(dirname "$0")/.."
export RAYON_NUM_THREADS="${RAYON_NUM_THREADS:-2}"
nice -n 10 cargo run -q --release -p heritage --example bench_sightlines -- "${1:-4000000}"
# A 1000 x 1000 viewshed against gdal_viewshed on the same grid (gdal-bin: scripts/setup.sh --test).
nice -n 10 cargo run -q --release -p heritage --example bench_viewshed
