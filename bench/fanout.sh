#!/usr/bin/env bash
# Fan-out benchmark (issue 18): 10,000 confirmed status-page subscribers, one
# public update sent from the room of a release build; measures from "Send"
# until the SMTP server (Postfix's smtp-sink) has accepted the last email, and
# the server's peak memory. Beside it, in the same run, the reference: a plain
# Python smtplib sender pushing as many messages of about the same size to a
# fresh smtp-sink over one connection.
#                                     targets: < 10 s; peak RSS < 64 MiB
# Rerun any time: ./bench/fanout.sh   (SUBSCRIBERS=20000 for more; RESULTS=FILE
# appends lines for bench/all.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

PORT=${PORT:-18182}
SMTP_PORT=${SMTP_PORT:-12525}
SUBSCRIBERS=${SUBSCRIBERS:-10000}
smtp_sink_pid=
trap 'if [ -n "$smtp_sink_pid" ]; then kill "$smtp_sink_pid" 2>/dev/null || true; fi; bench_cleanup' EXIT

bench_build
bench_database firebreak_bench_fanout
psql -q "$URL" <<SQL
INSERT INTO components (name) VALUES ('API');
INSERT INTO subscribers (email, token, all_components, confirmed_at)
  SELECT 'reader' || g || '@bench.example', md5(g::text) || substr(md5('x' || g), 1, 16), TRUE, now()
  FROM generate_series(1, $SUBSCRIBERS) g;
ANALYZE;
SQL
bench_smtp_sink "$SMTP_PORT" "$work/sink.out"
bench_serve "$PORT" SMTP_URL="smtp://127.0.0.1:$SMTP_PORT"
bench_sign_in
api=$(psql -tA "$URL" -c "SELECT id FROM components WHERE name = 'API'")
t=$(bench_csrf /incidents/new)
room=$(curl -fs -b "$jar" -c "$jar" -o /dev/null -w '%{redirect_url}' --data-urlencode "csrf_token=$t" \
  --data-urlencode "title=Fan-out benchmark" --data-urlencode "severity=2" --data-urlencode "components=$api" "$BASE/incidents")
id=${room##*/}

t=$(bench_csrf "/incidents/$id/updates/new")
echo "==> sending one public update to $SUBSCRIBERS subscribers"
start=$(date +%s.%N)
code=$(curl -s -b "$jar" -c "$jar" -o "$work/sent.html" -w '%{http_code} %{time_total}' --data-urlencode "csrf_token=$t" \
  --data-urlencode "status=identified" --data-urlencode "impact_started_at=$(date -u +%Y-%m-%dT%H:%M)" \
  --data-urlencode "impact=Requests fail for some customers." --data-urlencode "actions=Rolling back." \
  --data-urlencode "next_update=30" --data-urlencode "audience=public" \
  --data-urlencode "component_status=$api:partial_outage" --data-urlencode "action=send" "$BASE/incidents/$id/updates")
echo "    POST answered: $code (status, seconds)"
deadline=$(($(date +%s) + 180))
n=0
last=$start
while [ "$(date +%s)" -lt "$deadline" ]; do
  n=$(bench_smtp_sink_count "$work/sink.out")
  n=${n:-0}
  last=$(date +%s.%N)
  [ "$n" -ge "$SUBSCRIBERS" ] && break
  sleep 0.05
done
elapsed=$(awk -v a="$start" -v b="$last" 'BEGIN { printf "%.1f", b - a }')
failed=$(psql -tA "$URL" -c "SELECT count(*) FROM outbox WHERE status <> 'sent'")
rss=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
kill "$pid" "$smtp_sink_pid" 2>/dev/null || true
pid=

echo "==> reference: smtplib sends $SUBSCRIBERS messages over one connection to a fresh smtp-sink"
bench_smtp_sink "$((SMTP_PORT + 1))" "$work/ref-sink.out"
ref=$(python3 bench/smtplib_sender.py "$((SMTP_PORT + 1))" "$SUBSCRIBERS")
ref_n=$(bench_smtp_sink_count "$work/ref-sink.out")
ratio=$(awk -v a="$elapsed" -v b="$ref" 'BEGIN { printf "%.2f", a / b }')

echo
echo "== results ($(nproc) cores; PostgreSQL and smtp-sink on the same machine) =="
printf 'fan-out: %s of %s emails accepted in %s s (target < 10 s); not sent: %s; server peak memory %s MiB (target < 64)\n' \
  "$n" "$SUBSCRIBERS" "$elapsed" "$failed" "$rss"
printf 'reference: smtplib, one connection, %s messages accepted in %s s; Firebreak took %sx its time\n' "$ref_n" "$ref" "$ratio"
if [ -n "${RESULTS:-}" ]; then
  echo "fan-out of $SUBSCRIBERS emails|$elapsed s|$ref s (smtplib)|${ratio}x|< 10 s|$(awk -v e="$elapsed" -v n="$n" -v s="$SUBSCRIBERS" 'BEGIN { print (e < 10 && n >= s) ? "pass" : "FAIL" }')" >>"$RESULTS"
  echo "fan-out peak RSS|$rss MiB|||< 64 MiB|$(awk -v m="$rss" 'BEGIN { print (m < 64) ? "pass" : "FAIL" }')" >>"$RESULTS"
fi
