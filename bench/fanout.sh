#!/usr/bin/env bash
# Fan-out benchmark: 10,000 confirmed status-page subscribers, one public
# update sent from the room of a release build; measures how long until a
# local SMTP sink (aiosmtpd) has accepted every email. Target: < 60 s.
# Rerun any time: ./bench/fanout.sh   (SUBSCRIBERS=20000 for more)
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-18182}
SMTP_PORT=${SMTP_PORT:-12525}
SUBSCRIBERS=${SUBSCRIBERS:-10000}
DB=firebreak_bench_fanout
SERVER=${BENCH_DATABASE_SERVER:-postgres://postgres@127.0.0.1:5432}
URL="$SERVER/$DB"
BASE="http://127.0.0.1:$PORT"
work=$(mktemp -d)
pid=
sink=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "$sink" ] && kill "$sink" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

python3 -c 'import aiosmtpd' 2>/dev/null || pip install --quiet aiosmtpd
echo "==> building the release binary"
cargo build --release --quiet
bin=target/release/firebreak

python3 bench/smtp_sink.py "$SMTP_PORT" "$work/count" &
sink=$!

psql -q "$SERVER/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
DATABASE_URL=$URL "$bin" migrate >/dev/null
FIREBREAK_PASSWORD=benchmark-password DATABASE_URL=$URL "$bin" user add \
  --email lead@bench.example --name "Bench Lead" --role responder >/dev/null
psql -q "$URL" <<SQL
INSERT INTO components (name) VALUES ('API');
INSERT INTO subscribers (email, token, all_components, confirmed_at)
  SELECT 'reader' || g || '@bench.example', md5(g::text) || substr(md5('x' || g), 1, 16), TRUE, now()
  FROM generate_series(1, $SUBSCRIBERS) g;
ANALYZE;
SQL

DATABASE_URL=$URL BIND=127.0.0.1:$PORT SESSION_KEY=$(head -c 64 /dev/urandom | base64 -w0) \
  SMTP_URL="smtp://127.0.0.1:$SMTP_PORT" RUST_LOG=warn "$bin" serve >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -fs "$BASE/health" >/dev/null 2>&1 && break; sleep 0.1; done

jar="$work/cookies"
token() {
  curl -fs -b "$jar" -c "$jar" -o "$work/page.html" "$BASE$1"
  grep -m1 -o 'name="csrf_token" value="[^"]*"' "$work/page.html" | sed 's/.*value="//; s/"$//'
}
t=$(token /login)
curl -fs -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf_token=$t" \
  --data-urlencode "email=lead@bench.example" --data-urlencode "password=benchmark-password" "$BASE/login"
api=$(psql -tA "$URL" -c "SELECT id FROM components WHERE name = 'API'")
t=$(token /incidents/new)
room=$(curl -fs -b "$jar" -c "$jar" -o /dev/null -w '%{redirect_url}' --data-urlencode "csrf_token=$t" \
  --data-urlencode "title=Fan-out benchmark" --data-urlencode "severity=2" --data-urlencode "components=$api" "$BASE/incidents")
id=${room##*/}

t=$(token "/incidents/$id/updates/new")
echo "==> sending one public update to $SUBSCRIBERS subscribers"
start=$(date +%s.%N)
code=$(curl -s -b "$jar" -c "$jar" -o "$work/sent.html" -w '%{http_code} %{time_total}' --data-urlencode "csrf_token=$t" \
  --data-urlencode "status=identified" --data-urlencode "impact_started_at=$(date -u +%Y-%m-%dT%H:%M)" \
  --data-urlencode "impact=Requests fail for some customers." --data-urlencode "actions=Rolling back." \
  --data-urlencode "next_update=30" --data-urlencode "audience=public" \
  --data-urlencode "component_status=$api:partial_outage" --data-urlencode "action=send" "$BASE/incidents/$id/updates")
echo "    POST answered: $code (status, seconds)"
deadline=$(( $(date +%s) + 120 ))
n=0
while [ "$(date +%s)" -lt "$deadline" ]; do
  n=$(cut -d' ' -f1 "$work/count" 2>/dev/null || true)
  n=${n:-0}  # the sink may be rewriting the file right now
  [ "$n" -ge "$SUBSCRIBERS" ] && break
  sleep 0.5
done
last=$(cut -d' ' -f2 "$work/count" 2>/dev/null || echo "$start")
elapsed=$(awk -v a="$start" -v b="$last" 'BEGIN { printf "%.1f", b - a }')
failed=$(psql -tA "$URL" -c "SELECT count(*) FROM outbox WHERE status <> 'sent'")
rss=$(awk '/VmHWM/ { print $2 / 1024 " MiB" }' "/proc/$pid/status")

echo
echo "== results ($(nproc) cores, SMTP sink on the same machine) =="
printf 'fan-out: %s of %s emails accepted by the sink in %s s (target < 60 s); not sent: %s; server peak memory: %s\n' \
  "$n" "$SUBSCRIBERS" "$elapsed" "$failed" "$rss"
