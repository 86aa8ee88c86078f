#!/usr/bin/env bash
# Installs what huetwin needs on a fresh Debian 12 machine with Rust stable.
#   scripts/setup.sh         build + serve needs (PROJ)
#   scripts/setup.sh --test  also the test tools (GDAL's ogrinfo/gdalinfo, Mesa software Vulkan,
#                            Chromium for the viewer's browser test, python3-venv for the
#                            traffic benchmark's AequilibraE)
# Idempotent: skips packages already installed.
set -euo pipefail

# libclang-dev: proj-sys 0.23 generates its bindings with bindgen at build time.
need=(pkg-config libproj-dev proj-data libsqlite3-dev sqlite3 libclang-dev)
if [[ "${1:-}" == "--test" ]]; then
  # poppler-utils: the heritage report test reads the printed PDF with pdfinfo and pdftotext.
  # openssl: the TLS test makes its self-signed certificate with it.
  # python3-venv: scripts/bench_traffic.sh pip-installs AequilibraE 1.7.2 into a venv.
  # mosquitto, mosquitto-clients: the SensorThings MQTT tests start a broker on a free loopback
  # port (tile-server/tests/sta.rs) and publish with mosquitto_pub.
  # postgresql, postgresql-15-postgis-3: the store tests and bench_store.sh run on a throwaway
  # PostGIS cluster too (scripts/pg.sh; docs/adr/0028).
  need+=(gdal-bin mesa-vulkan-drivers chromium poppler-utils openssl python3-venv mosquitto
    mosquitto-clients postgresql postgresql-15-postgis-3)
fi

# shellcheck source=apt.sh
source "$(dirname "$0")/apt.sh"
apt_ensure "${need[@]}"

# The Khronos glTF validator the tile tests run (npm gltf-validator, pinned in tools/package-lock.json).
if [[ "${1:-}" == "--test" ]]; then
  npm ci --prefix "$(dirname "$0")/../tools" --no-audit --no-fund --loglevel=error
  # frost_sta_client and paho-mqtt for the SensorThings tests, in target/live-venv
  "$(dirname "$0")/live_venv.sh" >/dev/null
  # moto's S3-compatible server for the object-storage and scale-out tests, in target/s3-venv
  "$(dirname "$0")/s3_venv.sh" >/dev/null
fi

# The web viewer's CesiumJS (npm cesium, and playwright-core for its browser test, pinned in
# web/package-lock.json), copied to web/vendor/cesium where `twin serve` serves it.
npm ci --prefix "$(dirname "$0")/../web" --no-audit --no-fund --loglevel=error
node "$(dirname "$0")/../web/copy-cesium.mjs"
