#!/usr/bin/env bash
# Builds huetwin, imports the Hue sample twin (data/hue) into its GeoPackage store and
# describes it, then serves it: the web viewer's address is printed (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cargo build --release -p twin-cli
./target/release/twin build data/hue
./target/release/twin info data/hue
echo "Scenario runs need a token (README: Security): ./target/release/twin token create data/hue --role planner,"
echo "then paste it into the viewer's Sign in box."
./target/release/twin serve data/hue --scenarios scenarios/examples/hue
