#!/usr/bin/env bash
# Scale-out benchmark (issue 19), bounded (a few minutes): in one table,
#   - cached tile requests per second with 1 and 2 `twin serve --queue --objects` replicas
#     (wrk on loopback over the twin's .glb paths; with 2 replicas, one wrk per replica at the
#     same time, half the connections each, requests summed);
#   - scenario runs per hour with 1 and 2 `twin worker`s (N small flood runs of the sample
#     twin queued at once; from the first POST to the last run done).
# PostgreSQL from scripts/pg.sh, moto's S3 server from scripts/s3_venv.sh, all on 127.0.0.1.
#   scripts/bench_scale.sh [TWIN_DIR] [SECONDS] [RUNS]   (default: data/hue, 8 s per wrk, 6 runs)
#   PROFILE=debug scripts/bench_scale.sh                  (the debug binary; default release)
# The peer in each row is the same work on one process (1 replica, 1 worker). Note the
# machine: replicas and workers only scale where there are cores for them (`nproc` is printed).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TWIN_SRC=${1:-data/hue}
SECS=${2:-8}
RUNS=${3:-6}
PROFILE=${PROFILE:-release}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
OUT=$TARGET/bench-scale
CONNS=32

# shellcheck source=pg.sh
source scripts/pg.sh
apt_ensure wrk curl python3-venv
if [[ $PROFILE == release ]]; then
  nice -n 10 cargo build --release -p twin-cli
else
  nice -n 10 cargo build -p twin-cli
fi
BIN=$TARGET/$PROFILE/twin
MOTO=$(scripts/s3_venv.sh)

rm -rf "$OUT"
mkdir -p "$OUT"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pg_stop
}
trap cleanup EXIT
# PG_KEEP: pg.sh would set its own EXIT trap (pg_stop), replacing cleanup, and the replicas
# and moto outlived the bench; cleanup stops the cluster too.
PG_KEEP=1 pg_start
free_port() { python3 -c '
import random, socket
for _ in range(200):
    p = random.randint(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError: pass
    finally: s.close()'; }
wait_up() { for _ in $(seq 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done; echo "bench: $1 did not come up" >&2; return 1; }

S3_PORT=$(free_port)
"$MOTO" -H 127.0.0.1 -p "$S3_PORT" >"$OUT/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" && break; sleep 0.2; done
curl -sf -X PUT "http://127.0.0.1:$S3_PORT/huetwin" >/dev/null
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_ALLOW_HTTP=true AWS_REGION=us-east-1
OBJ="s3://huetwin?endpoint=http://127.0.0.1:$S3_PORT"

TWIN=$OUT/twin
mkdir -p "$TWIN"
cp -r "$TWIN_SRC"/. "$TWIN"/
rm -rf "$TWIN/runs" "$TWIN/cache" "$TWIN/twin.gpkg" "$TWIN/objects"
"$BIN" build "$TWIN" >/dev/null
TOKEN=$("$BIN" token create "$TWIN" --role planner --name bench --quiet)
mkdir -p "$OUT/scen"
cat >"$OUT/scen/bench.toml" <<EOF
model = "flood"
baseline = "none"
name = "bench"
bbox = [772000, 1820000, 778000, 1825500]
resolution_m = 60
duration_s = 10800
output_interval_s = 5400
[[stage]]
water = "song-huong"
series = [[0, 3.0]]
fill = true
[buildings]
burn = true
EOF

serve() { # port log
  "$BIN" serve "$TWIN" --addr "127.0.0.1:$1" --scenarios "$OUT/scen" --queue "$PG_URL" --objects "$OBJ" >"$OUT/$2" 2>&1 &
  pids+=($!)
  wait_up "http://127.0.0.1:$1/healthz"
}

# --- tiles: the .glb paths of the tileset, warmed through each replica once.
P1=$(free_port); P2=$(free_port)
serve "$P1" serve1.log
"$BIN" tiles export "$TWIN" "$OUT/export" >/dev/null
(cd "$OUT/export" && find . -name '*.glb' | sed 's|^\./|/tiles/|' | sort) >"$OUT/glb.txt"
echo "bench: $(wc -l <"$OUT/glb.txt") tiles; nproc $(nproc); profile $PROFILE"
cat >"$OUT/paths.lua" <<EOF
local paths = {}
for line in io.lines("$OUT/glb.txt") do paths[#paths + 1] = line end
local i = math.random(#paths)
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
EOF
while read -r p; do curl -sf -o /dev/null "http://127.0.0.1:$P1$p"; done <"$OUT/glb.txt"
sleep 1 # background puts to object storage
serve "$P2" serve2.log
while read -r p; do curl -sf -o /dev/null "http://127.0.0.1:$P2$p"; done <"$OUT/glb.txt"
rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
wrk -t2 -c"$CONNS" -d"${SECS}s" -s "$OUT/paths.lua" "http://127.0.0.1:$P1" >"$OUT/wrk1.txt" 2>&1
TILES1=$(rps "$OUT/wrk1.txt")
wrk -t1 -c$((CONNS / 2)) -d"${SECS}s" -s "$OUT/paths.lua" "http://127.0.0.1:$P1" >"$OUT/wrk2a.txt" 2>&1 &
wa=$!
wrk -t1 -c$((CONNS / 2)) -d"${SECS}s" -s "$OUT/paths.lua" "http://127.0.0.1:$P2" >"$OUT/wrk2b.txt" 2>&1
wait "$wa"
TILES2=$(python3 -c "print(round($(rps "$OUT/wrk2a.txt") + $(rps "$OUT/wrk2b.txt"), 1))")

# --- runs: RUNS queued at once, then 1 or 2 workers; wall time to the last run done.
runs_per_hour() { # workers
  local ids=() t0 t1
  t0=$(date +%s.%N)
  for k in $(seq "$RUNS"); do
    port=$P1; ((k % 2)) || port=$P2
    ids+=("$(curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
      -d '{"scenario": "bench.toml"}' "http://127.0.0.1:$port/api/runs" | python3 -c 'import json,sys; print(json.load(sys.stdin)["run"]["id"])')")
  done
  local wp=()
  for w in $(seq "$1"); do
    cp -r "$TWIN" "$OUT/worker-$1-$w" 2>/dev/null || true
    "$BIN" worker "$OUT/worker-$1-$w" --queue "$PG_URL" --objects "$OBJ" --scenarios "$OUT/scen" --name "w$1-$w" >"$OUT/worker-$1-$w.log" 2>&1 &
    wp+=($!); pids+=($!)
  done
  for id in "${ids[@]}"; do
    for _ in $(seq 36000); do
      s=$(curl -sf "http://127.0.0.1:$P1/api/runs/$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["run"]["status"])')
      [[ $s == done || $s == failed || $s == cancelled ]] && break
      sleep 0.1
    done
    [[ $s == done ]] || { echo "bench: run $id $s" >&2; exit 1; }
  done
  t1=$(date +%s.%N)
  for p in "${wp[@]}"; do kill "$p" 2>/dev/null || true; done
  python3 -c "print(round($RUNS * 3600 / ($t1 - $t0)))"
}
RPH1=$(runs_per_hour 1)
RPH2=$(runs_per_hour 2)

printf '\n%-44s %14s %14s %8s\n' "measure ($PROFILE, nproc $(nproc))" "1 (peer)" "2" "ratio"
printf '%-44s %14s %14s %8s\n' "cached tile requests/s (wrk, $CONNS conns)" "$TILES1" "$TILES2" \
  "$(python3 -c "print(f'{$TILES2 / $TILES1:.2f}')")"
printf '%-44s %14s %14s %8s\n' "flood runs/hour ($RUNS queued, 60 m, 3 h)" "$RPH1" "$RPH2" \
  "$(python3 -c "print(f'{$RPH2 / $RPH1:.2f}')")"
echo "(1 = one replica / one worker; 2 = two. PostgreSQL 15 with synchronous_commit=on, fsync ~0.04 ms here; moto in memory.)"
