#!/usr/bin/env bash
# Builds huetwin, imports the Hue sample twin (data/hue) into its GeoPackage store and
# describes it. (It will serve it once the server lands.)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cargo build --release -p tile-server
./target/release/twin build data/hue
./target/release/twin info data/hue
