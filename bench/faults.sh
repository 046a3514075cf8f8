#!/usr/bin/env bash
# Fault injection against a private, throwaway PostgreSQL cluster (never the
# shared server): stop, freeze (SIGSTOP) and restart PostgreSQL, start
# Firebreak while PostgreSQL is down, an SMTP outage, and kill -9 of an
# instance holding claimed email. Prints what it measured.
# Rerun: ./bench/faults.sh   (uses target/debug/firebreak; `cargo build` first)
set -euo pipefail
cd "$(dirname "$0")/.."

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGPORT=${PGPORT:-55439}
PORT=${PORT:-18191}
BIN=${BIN:-target/debug/firebreak}
BASE="http://127.0.0.1:$PORT"
work=$(mktemp -d)
chmod 777 "$work"
app=
cleanup() {
  [ -n "$app" ] && kill -9 "$app" 2>/dev/null || true
  pkill -CONT -P "$(head -1 "$work/pg/postmaster.pid" 2>/dev/null || echo 0)" 2>/dev/null || true
  as_pg "$PGBIN/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
now() { date +%s.%N; }
since() { python3 -c "print(f'{$(now) - $1:.2f}')"; }
pg_start() { as_pg "$PGBIN/pg_ctl" -D "$work/pg" -o "-p $PGPORT -k $work -c listen_addresses=127.0.0.1" -l "$work/pg.log" -w start >/dev/null; }
pg_stop() { as_pg "$PGBIN/pg_ctl" -D "$work/pg" -m fast -w stop >/dev/null; }
psql_() { "$PGBIN/../bin/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d firebreak -Atq -c "$1" 2>/dev/null || /usr/bin/psql -h 127.0.0.1 -p "$PGPORT" -U postgres -d firebreak -Atq -c "$1"; }
code() { curl -s -o /dev/null -m 30 -w '%{http_code} %{time_total}' "$@"; }
stale() { curl -s -m 5 "$BASE/api/v2/status.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["page"]["stale"])' 2>/dev/null || echo "?"; }
is_stale() { test "$(stale)" = "$1"; }
sql_true() { test "$(psql_ "$1")" = t; }
wait_for() { # wait_for SECONDS COMMAND... : until COMMAND succeeds; prints seconds taken
  local t0; t0=$(now); local limit=$1; shift
  until "$@" >/dev/null 2>&1; do
    if python3 -c "import sys; sys.exit(0 if $(now) - $t0 > $limit else 1)"; then echo "timeout"; return 1; fi
    sleep 0.1
  done
  since "$t0"
}
start_app() { # start_app LOG [ENV...]
  local log=$1; shift
  env DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/firebreak" BIND="127.0.0.1:$PORT" MAIL_DIR="$work/mail" \
    SESSION_KEY="$(head -c 64 /dev/urandom | base64 -w0)" "$@" "$BIN" serve >"$log" 2>&1 &
  app=$!
}

[ -x "$BIN" ] || { echo "build first: cargo build" >&2; exit 1; }
as_pg "$PGBIN/initdb" -D "$work/pg" -U postgres --auth=trust >/dev/null
pg_start

echo "== start-up while PostgreSQL is down"
pg_stop
t0=$(now)
start_app "$work/app1.log" DB_START_TIMEOUT_SECS=60 SMTP_URL="smtp://127.0.0.1:9" MAIL_RETRY_BASE_SECS=0.2
sleep 3
pg_start
wait_for 60 curl -sf "$BASE/ready" >/dev/null
echo "waiting lines logged: $(grep -c 'waiting for the database' "$work/app1.log"); serving $(since "$t0") s after launch (PostgreSQL back after 3 s)"

echo "== PostgreSQL stopped"
wait_for 10 is_stale False >/dev/null
pg_stop; t0=$(now)
echo "status JSON marked stale after: $(wait_for 30 is_stale True) s"
echo "API while down (code, seconds): $(code -H 'Authorization: Bearer fbk_x' "$BASE/api/v1/incidents")"
echo "status page while down (code, seconds): $(code "$BASE/status")"
pg_start; t0=$(now)
echo "PostgreSQL restarted: status fresh again after $(wait_for 30 is_stale False) s"

echo "== PostgreSQL frozen (SIGSTOP)"
sleep 1
pm=$(head -1 "$work/pg/postmaster.pid")
kill -STOP "$pm"; pkill -STOP -P "$pm"; t0=$(now)
echo "status JSON marked stale after: $(wait_for 30 is_stale True) s"
echo "API while frozen (code, seconds): $(code -H 'Authorization: Bearer fbk_x' "$BASE/api/v1/incidents")"
echo "status page while frozen (code, seconds): $(code "$BASE/status")"
pkill -CONT -P "$pm"; kill -CONT "$pm"
echo "thawed: status fresh again after $(wait_for 30 is_stale False) s"

echo "== SMTP down (nothing listens on port 9): 40 emails queued"
psql_ "INSERT INTO outbox (message_id, kind, to_address, to_name, subject, text_body, html_body)
       SELECT '<f' || g || '@bench>', 'test', 'p' || g || '@example.test', 'P', 'S', 'T', '<p>T</p>' FROM generate_series(1, 40) g;
       SELECT pg_notify('firebreak_outbox', '')" >/dev/null
wait_for 30 sql_true "SELECT count(*) >= 120 FROM outbox_attempts WHERE error IS NOT NULL" >/dev/null
echo "failed attempts: $(psql_ "SELECT count(*) FROM outbox_attempts WHERE error IS NOT NULL"); WARN lines about email: $(grep -c 'WARN.*email' "$work/app1.log")"

echo "== kill -9 of an instance while its emails are in flight"
# An SMTP server that accepts connections and never answers: sends hang, rows stay claimed.
python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1000); time.sleep(600)' $((PORT + 1)) &
hole=$!
kill "$app"; wait "$app" 2>/dev/null || true
psql_ "UPDATE outbox SET next_attempt_at = now(), attempts = 0, locked_until = NULL WHERE status = 'pending'"
start_app "$work/app2.log" SMTP_URL="smtp://127.0.0.1:$((PORT + 1))" MAIL_RETRY_BASE_SECS=0.2
wait_for 30 sql_true "SELECT count(*) = 40 FROM outbox WHERE locked_until > now()" >/dev/null
before=$(psql_ "SELECT count(*) FROM outbox_attempts")
kill -9 "$app"; wait "$app" 2>/dev/null || true; t0=$(now)
start_app "$work/app3.log" SMTP_URL="smtp://127.0.0.1:9" MAIL_RETRY_BASE_SECS=0.2
took=$(wait_for 120 sql_true "SELECT count(*) > $before FROM outbox_attempts")
echo "40 emails claimed by the killed instance (16 in flight): tried again by a new instance after $took s (lease 30 s; was 300 s)"
kill "$hole" 2>/dev/null || true
