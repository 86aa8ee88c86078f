#!/usr/bin/env bash
# Live-data ingest benchmark, one run, durability on everywhere:
#   - huetwin: observations/s stored over HTTP dataArray batches (POST /v1.1/CreateObservations,
#     201 only after the group commit: SQLite WAL, synchronous=FULL) and over MQTT (QoS 1
#     through mosquitto, PUBACK after the commit), then the p50/p99 of a one-day range query
#     over HTTP with FILL observations stored (tile-server/examples/live_bench.rs);
#   - PostgreSQL 15 (Debian's, a throwaway cluster started here as the postgres user,
#     synchronous_commit=on, fsync=on): single-row INSERTs (one commit each) and COPY in
#     10,000-row transactions of the same rows.
#   scripts/bench_live.sh                    (HTTP=200000 MQTT=100000 FILL=10000000 PG_INSERT=20000 PG_COPY=200000)
#   PROFILE=dev scripts/bench_live.sh        the debug build (workspace crates unoptimised)
# Installs mosquitto and postgresql (Debian packages) when missing. Work files under
# target/bench-live ($CARGO_TARGET_DIR/bench-live when set); the PostgreSQL cluster under /tmp.
set -euo pipefail
cd "$(dirname "$0")/.."
HTTP=${HTTP:-200000}
MQTT=${MQTT:-100000}
FILL=${FILL:-10000000}
PG_INSERT=${PG_INSERT:-20000}
PG_COPY=${PG_COPY:-200000}
PROFILE=${PROFILE:-release}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
OUT=$TARGET/bench-live
mkdir -p "$OUT"

# shellcheck source=apt.sh
source scripts/apt.sh
apt_ensure mosquitto postgresql

if [[ $PROFILE == release ]]; then
  cargo build --release -p tile-server --example live_bench
  BIN=$TARGET/release/examples/live_bench
else
  cargo build -p tile-server --example live_bench
  BIN=$TARGET/debug/examples/live_bench
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# mosquitto on a free loopback port, persistence on, no cap on in-flight or queued messages.
MQ=$(free_port)
mkdir -p "$OUT/mosquitto"
cat >"$OUT/mosquitto/mosquitto.conf" <<CONF
listener $MQ 127.0.0.1
allow_anonymous true
user root
persistence true
persistence_location $OUT/mosquitto/
max_inflight_messages 0
max_queued_messages 0
max_queued_bytes 0
CONF
mosquitto -c "$OUT/mosquitto/mosquitto.conf" >/dev/null 2>&1 &
MQ_PID=$!
PGDIR=$(mktemp -d /tmp/huetwin-bench-pg.XXXXXX)
PG_PORT=25$((RANDOM % 900 + 100))
PGBIN=/usr/lib/postgresql/15/bin
cleanup() {
  kill "$MQ_PID" 2>/dev/null || true
  if [[ -f $PGDIR/data/postmaster.pid ]]; then
    (cd / && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast stop >/dev/null 2>&1) || true
  fi
  rm -rf "$PGDIR"
}
trap cleanup EXIT
sleep 0.5

echo "== huetwin ($PROFILE build): HTTP $HTTP, MQTT $MQTT, fill to $FILL" >&2
"$BIN" "$OUT/work" --http "$HTTP" --mqtt-port "$MQ" --mqtt "$MQTT" --fill "$FILL" | tee "$OUT/huetwin.txt"
val() { awk -v k="$1" '$1==k {print $2}' "$OUT/huetwin.txt"; }

echo "== PostgreSQL 15, port $PG_PORT, cluster $PGDIR" >&2
chown postgres "$PGDIR"
(cd / && runuser -u postgres -- "$PGBIN/initdb" -D "$PGDIR/data" -E UTF8 --locale=C.UTF-8 >/dev/null)
(cd / && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
  -o "-p $PG_PORT -k $PGDIR -c listen_addresses=127.0.0.1 -c synchronous_commit=on -c fsync=on" start >/dev/null)
psql_() { (cd / && runuser -u postgres -- psql -h 127.0.0.1 -p "$PG_PORT" -X -q -v ON_ERROR_STOP=1 "$@"); }
psql_ -c "CREATE TABLE obs(id bigserial PRIMARY KEY, datastream int NOT NULL, t timestamptz NOT NULL, result double precision NOT NULL); CREATE INDEX ON obs(datastream, t);"
psql_ -At -c "SHOW synchronous_commit" | grep -qx on
# The same rows as the HTTP run: Datastream, a time a second apart, result.
python3 - "$PGDIR" "$PG_INSERT" "$PG_COPY" <<'PY'
import sys, datetime
d, n_ins, n_copy = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t0 = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
row = lambda i: (1 + i % 10, (t0 + datetime.timedelta(seconds=i)).isoformat(), (i % 1000) / 100)
with open(d + "/insert.sql", "w") as f:
    for i in range(n_ins):
        f.write("INSERT INTO obs(datastream, t, result) VALUES (%d, '%s', %s);\n" % row(i))
k = 0
for start in range(0, n_copy, 10000):
    with open(d + "/copy%05d.csv" % k, "w") as f:
        for i in range(start, min(n_copy, start + 10000)):
            f.write("%d,%s,%s\n" % row(n_ins + i))
    k += 1
PY
chmod -R a+r "$PGDIR"
s0=$(date +%s.%N)
psql_ -f "$PGDIR/insert.sql"
s1=$(date +%s.%N)
for f in "$PGDIR"/copy*.csv; do echo "\\copy obs(datastream, t, result) FROM '$f' CSV"; done >"$PGDIR/copy.sql"
psql_ -f "$PGDIR/copy.sql"
s2=$(date +%s.%N)
pg_ins=$(python3 -c "print(round($PG_INSERT/($s1-$s0)))")
pg_copy=$(python3 -c "print(round($PG_COPY/($s2-$s1)))")

echo
echo "Observations stored per second, durable before acknowledged (fsync here costs ~0.04 ms)"
printf '| %-58s | %12s | %10s |\n' "ingest" "obs/s" "rows"
printf '| %-58s | %12s | %10s |\n' "---" "---" "---"
printf '| %-58s | %12s | %10s |\n' "huetwin HTTP dataArray, 5000-row batches, 4 connections" "$(val http_obs_per_s)" "$(val http_rows)"
printf '| %-58s | %12s | %10s |\n' "huetwin MQTT QoS 1 via mosquitto, one message each" "$(val mqtt_obs_per_s)" "$(val mqtt_rows)"
printf '| %-58s | %12s | %10s |\n' "PostgreSQL 15 single-row INSERT, synchronous_commit=on" "$pg_ins" "$PG_INSERT"
printf '| %-58s | %12s | %10s |\n' "PostgreSQL 15 COPY, 10,000-row transactions" "$pg_copy" "$PG_COPY"
echo
echo "One-day range query over HTTP (1440 rows of one Datastream), $(val stored_total) observations stored:"
echo "p50 $(val range_p50_ms) ms, p99 $(val range_p99_ms) ms over $(val range_queries) queries ($(val range_rows_per_query) rows each)"
