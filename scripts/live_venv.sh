#!/usr/bin/env bash
# The Python clients of the live-data tests and benchmark, in a venv under the target folder:
# FROST-Server's SensorThings client (frost_sta_client) and paho-mqtt. Prints the venv's python.
#   scripts/live_venv.sh        create it when missing (needs PyPI once), print its python
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${CARGO_TARGET_DIR:-$root/target}/live-venv"
if ! "$venv/bin/python" -c "import frost_sta_client, paho.mqtt" 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q "frost_sta_client==1.1.53" "paho-mqtt==2.2.0" >&2
fi
echo "$venv/bin/python"
