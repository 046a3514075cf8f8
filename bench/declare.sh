#!/usr/bin/env bash
# Declare benchmark (issue 18): incidents declared through the API at a steady
# RATE per second for SECONDS_ seconds (paced, so waiting for a connection
# counts: no coordinated omission), against a release build with 5 internal
# stakeholders and a webhook subscribed, so each declaration writes its
# incident, its timeline entry, its outbox rows and webhook delivery and its
# live event, in one transaction.
#                        targets: every post answered 201; p99 < 100 ms at 500/s
# (The target is a bound, not a ratio: no other tool declares incidents.)
# Rerun any time: ./bench/declare.sh  (RATE=800, SECONDS_=10; PROFILE=debug;
# RESULTS=FILE appends a line for bench/all.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

PORT=${PORT:-18189}
RATE=${RATE:-500}
SECONDS_=${SECONDS_:-30}
posts=$((RATE * SECONDS_))

bench_build
bench_database firebreak_bench_declare
bench_serve "$PORT" MAIL_DIR="$work/mail" DB_POOL_SIZE=16 OUTGOING_ALLOWED_HOSTS=127.0.0.1
bench_sign_in
bench_api_token responder

# A webhook subscribed to declarations, answered by a local sink (allowed
# explicitly, as an admin would for an internal host).
HOOK_PORT=$((PORT + 1))
python3 bench/http_sink.py "$HOOK_PORT" "$work/hook-count" &
hook_sink=$!
trap 'kill "$hook_sink" 2>/dev/null || true; bench_cleanup' EXIT
t=$(bench_csrf /admin/webhooks)
curl -fs -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf_token=$t" --data-urlencode "name=Chat" \
  --data-urlencode "url=http://127.0.0.1:$HOOK_PORT/hook" --data-urlencode "secret=" \
  --data-urlencode "format=json" --data-urlencode "events=incident_declared" "$BASE/admin/webhooks"
[ "$(psql -tAq "$URL" -c "SELECT count(*) FROM webhooks")" = 1 ] || { echo "could not add the webhook"; exit 1; }

echo "==> $posts declarations at $RATE/s for ${SECONDS_}s ($PROFILE build)"
python3 bench/alert_storm.py "$BASE/api/v1/incidents" "$api_token" --declare \
  --posts "$posts" --fingerprints 1 --seconds "$SECONDS_" >"$work/result.json"
cat "$work/result.json"
q() { psql -tAq "$URL" -c "$1"; }
incidents=$(q "SELECT count(*) FROM incidents")
entries=$(q "SELECT count(DISTINCT incident_id) FROM timeline_entries")
deliveries=$(q "SELECT count(*) FROM webhook_deliveries")
r() { python3 -c "import json,sys; print(json.load(open('$work/result.json'))['$1'])"; }
rss=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")

echo
echo "== results ($PROFILE build, $(nproc) cores; PostgreSQL and the generator on the same machine) =="
printf 'declared %s of %s (answers: %s); incidents with a timeline entry %s; webhook deliveries %s\n' \
  "$incidents" "$posts" "$(r statuses)" "$entries" "$deliveries"
printf 'latency from scheduled send: p50 %s ms  p99 %s ms  max %s ms  (target p99 < 100 ms at %s/s)  elapsed %s s\n' \
  "$(r p50_ms)" "$(r p99_ms)" "$(r max_ms)" "$RATE" "$(r elapsed_s)"
echo "server peak memory (VmHWM): $rss MiB"
if [ -n "${RESULTS:-}" ]; then
  ok=$(awk -v p="$(r p99_ms)" -v n="$incidents" -v want="$posts" 'BEGIN { print (p < 100 && n == want) ? "pass" : "FAIL" }')
  echo "declare $RATE/s for ${SECONDS_}s, p99|$(r p99_ms) ms (${incidents} declared)|||< 100 ms, all declared|$ok" >>"$RESULTS"
fi
