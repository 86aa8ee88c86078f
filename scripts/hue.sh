#!/usr/bin/env bash
# Builds huetwin, imports the Hue sample twin (data/hue: OpenStreetMap buildings, roads, water
# and land use, © OpenStreetMap contributors, ODbL; synthetic terrain) into its GeoPackage store and
# describes it, then serves it: the web viewer's address is printed (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cargo build --release -p twin-cli
twin="${CARGO_TARGET_DIR:-target}/release/twin"
"$twin" build data/hue
"$twin" info data/hue
echo "Scenario runs need a token (README: Security): $twin token create data/hue --role planner,"
echo "then paste it into the viewer's Sign in box."
"$twin" serve data/hue --scenarios scenarios/examples/hue
