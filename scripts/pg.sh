# Sourced by the scripts and tests that need PostgreSQL: `pg_start` starts a throwaway cluster
# of Debian's PostgreSQL 15 (with PostGIS 3 installed) on a free 127.0.0.1 port, owned by the
# postgres user, durable (fsync=on, synchronous_commit=on), and sets
#   PGDIR (its folder under /tmp), PG_PORT, PG_URL (postgres://postgres@127.0.0.1:PORT/postgres);
# `pg_stop` stops it and removes the folder (it is also registered on EXIT by pg_start unless
# PG_KEEP=1). `psql_ ARGS` runs psql against it as postgres. Installs the packages when missing.
# shellcheck source=apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
PGBIN=/usr/lib/postgresql/15/bin

pg_start() {
  apt_ensure postgresql postgresql-15-postgis-3 >&2
  PGDIR=$(mktemp -d /tmp/huetwin-pg.XXXXXX)
  # A free port below 32768: outgoing connections draw from 32768-60999 (DESIGN.md).
  PG_PORT=$(python3 -c '
import random, socket
for _ in range(200):
    p = random.randint(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError: pass
    finally: s.close()')
  local as=()
  [[ $(id -u) -eq 0 ]] && { chown postgres "$PGDIR"; as=(runuser -u postgres --); }
  (cd / && "${as[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null)
  (cd / && "${as[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
    -o "-p $PG_PORT -k $PGDIR -c listen_addresses=127.0.0.1 -c synchronous_commit=on -c fsync=on" start >/dev/null)
  PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  export PGDIR PG_PORT PG_URL
  [[ ${PG_KEEP:-0} == 1 ]] || trap pg_stop EXIT
}

pg_stop() {
  [[ -n ${PGDIR:-} && -d $PGDIR ]] || return 0
  local as=()
  [[ $(id -u) -eq 0 ]] && as=(runuser -u postgres --)
  if [[ -f $PGDIR/data/postmaster.pid ]]; then
    (cd / && "${as[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast stop >/dev/null 2>&1) || true
  fi
  rm -rf "$PGDIR"
}

psql_() { (cd / && psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"); }
