#!/usr/bin/env bash
# Replays a river-stage hydrograph at the Kim Long gauge rising to the 5.05 m peak of
# 27 October 2025 (hourly, a synthetic shape through that peak: 1.5 m on the 26th, 3.0 m at
# midnight, 5.05 m at noon on the 27th, back to 2.0 m on the 29th), with readings of every
# other sensor of the twin's layer (rain gauges, traffic cameras), into a running server over
# SensorThings (POST /v1.1/Datastreams(id)/Observations), one hour of the flood per STEP
# seconds. With a nowcast bound in <twin>/live.toml, crossing 3.5 m starts the nowcast run.
#   TOKEN=<editor token> scripts/live-demo.sh [BASE_URL] [STEP]   (http://127.0.0.1:8080, 0.5)
# Citizen reports (Open311) are not replayed by this script.
set -euo pipefail
BASE=${1:-http://127.0.0.1:8080}
STEP=${2:-0.5}
: "${TOKEN:?set TOKEN to an editor token (twin token create --role editor)}"
python3 - "$BASE" "$STEP" "$TOKEN" <<'PY'
import datetime, json, math, sys, time, urllib.parse, urllib.request

base, step, token = sys.argv[1], float(sys.argv[2]), sys.argv[3]

def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")

streams = call("GET", "/v1.1/Datastreams?$top=1000&$expand=Thing($select=name,properties)")["value"]
by_twin = {d.get("properties", {}).get("twinId"): d for d in streams}
gauge = by_twin.get("sensor:gauge-kim-long")
if gauge is None:
    sys.exit("no Datastream of sensor:gauge-kim-long on %s" % base)
knots = [(0, 1.5), (24, 3.0), (36, 5.05), (60, 3.0), (72, 2.0)]  # hours from 26 Oct 00:00 +07:00
def stage(h):
    for (h0, v0), (h1, v1) in zip(knots, knots[1:]):
        if h0 <= h <= h1:
            return round(v0 + (v1 - v0) * (h - h0) / (h1 - h0), 3)
    return knots[-1][1]
t0 = datetime.datetime(2025, 10, 26, tzinfo=datetime.timezone(datetime.timedelta(hours=7)))
for h in range(0, 73):
    t = (t0 + datetime.timedelta(hours=h)).isoformat()
    v = stage(h)
    call("POST", "/v1.1/Datastreams(%d)/Observations" % gauge["@iot.id"], {"phenomenonTime": t, "result": v})
    others = 0
    for twin_id, d in by_twin.items():
        if d is gauge or not twin_id:
            continue
        kind = d.get("Thing", {}).get("properties", {}).get("kind", "")
        if kind == "rain_gauge":
            r = round(max(0.0, 30 * math.sin(math.pi * h / 48)) + (hash(twin_id) % 5), 1)
        elif kind == "river_gauge":
            r = round(stage(h) - 0.4, 3)
        else:
            r = int(400 + 300 * math.sin(math.pi * (h % 24) / 24)) + hash(twin_id) % 50
        call("POST", "/v1.1/Datastreams(%d)/Observations" % d["@iot.id"], {"phenomenonTime": t, "result": r})
        others += 1
    print("%s Kim Long %.2f m (+%d sensors)" % (t, v, others), flush=True)
    time.sleep(step)
print(json.dumps(call("GET", "/api/live/nowcast"), indent=1))
PY
