#!/usr/bin/env bash
# On-call benchmark (issue 14), against a release build and its own database:
#   1. 1,000 pages fall due at the same moment, each paging a different person
#      (so none are folded together): how late is each step notified, and how
#      late is its email written (MAIL_DIR, no SMTP)?     -> target: every step within 5 s
#   2. GET /oncall with 20 schedules of 8 people (a weekly layer and a
#      weekday-daytime layer each, plus overrides), 4 connections
#                                                         -> target median < 20 ms
# Beside it, the same wrk run against /health measures the server and wrk alone.
# Rerun any time: ./bench/oncall.sh  (DURATION=30 for longer runs; PROFILE=debug
# measures the debug build instead, without building release)
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-18182}
DURATION=${DURATION:-10}
PAGES=${PAGES:-1000}
. bench/lib.sh

command -v wrk >/dev/null || { as_root apt-get update -qq && as_root apt-get install -y -qq wrk; }
bench_build
bench_database firebreak_bench_oncall

echo "==> seeding $PAGES people with a one-step policy each, and 20 schedules"
psql -q "$URL" <<SQL
INSERT INTO users (email, display_name, password_hash, role)
  SELECT 'p' || g || '@bench.example', 'Person ' || g, 'not-a-hash', 'responder' FROM generate_series(1, $PAGES) g;
INSERT INTO incidents (title, severity, status, environment, kind, detection_source, visibility,
                       impact_started_at, detected_at, declared_by)
  VALUES ('Benchmark incident', 1, 'investigating', 'production', 'outage', 'alert', 'internal', now(), now(), 1);
INSERT INTO escalation_policies (name) SELECT 'Policy ' || g FROM generate_series(1, $PAGES) g;
INSERT INTO escalation_steps (policy_id, position, wait_minutes) SELECT id, 0, 30 FROM escalation_policies;
INSERT INTO escalation_step_targets (step_id, user_id)
  SELECT s.id, u.id FROM escalation_steps s
  JOIN escalation_policies p ON p.id = s.policy_id
  JOIN users u ON u.email = 'p' || substr(p.name, 8) || '@bench.example';
INSERT INTO oncall_schedules (name, time_zone) SELECT 'Schedule ' || g, 'Europe/Berlin' FROM generate_series(1, 20) g;
INSERT INTO oncall_layers (schedule_id, position, start_date, handoff_time, shift_length, shift_unit)
  SELECT id, 0, current_date - 30, '09:00', 1, 'weeks' FROM oncall_schedules;
INSERT INTO oncall_layers (schedule_id, position, start_date, handoff_time, shift_length, shift_unit,
                           restrict_weekdays, restrict_start, restrict_end)
  SELECT id, 1, current_date - 30, '09:00', 1, 'days', 31, '09:00', '17:00' FROM oncall_schedules;
INSERT INTO oncall_layer_members (layer_id, position, user_id)
  SELECT l.id, m, 2 + ((l.id * 8 + m) % $PAGES) FROM oncall_layers l, generate_series(0, 7) m;
INSERT INTO oncall_overrides (schedule_id, user_id, starts_at, ends_at)
  SELECT s.id, 2 + (s.id % $PAGES), now() + (o || ' days')::interval, now() + (o || ' days')::interval + interval '8 hours'
  FROM oncall_schedules s, generate_series(1, 3) o;
ANALYZE;
SQL
incident=$(psql -tA "$URL" -c "SELECT id FROM incidents LIMIT 1")

bench_serve "$PORT" MAIL_DIR="$work/mail" DB_POOL_SIZE=16

echo "==> $PAGES pages fall due at the same moment"
psql -q "$URL" <<SQL
INSERT INTO pages (incident_id, policy_id, origin, next_step_at)
  SELECT $incident, id, 'manual', date_trunc('second', now()) + interval '3 seconds' FROM escalation_policies;
SELECT pg_notify('firebreak_pages', '');
SQL
due=$(psql -tA "$URL" -c "SELECT min(next_step_at) FROM pages")
for _ in $(seq 1 300); do
  done_n=$(psql -tA "$URL" -c "SELECT count(*) FROM page_notifications WHERE status = 'sent'")
  [ "$done_n" -ge "$PAGES" ] && break
  sleep 0.2
done
read -r notified_p50 notified_p99 notified_max sent_p50 sent_p99 sent_max notified sent < <(psql -tA -F' ' "$URL" <<SQL
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM n.created_at - p.due))::numeric, 3),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM n.created_at - p.due))::numeric, 3),
       round(max(extract(epoch FROM n.created_at - p.due))::numeric, 3),
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM n.sent_at - p.due))::numeric, 3),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM n.sent_at - p.due))::numeric, 3),
       round(max(extract(epoch FROM n.sent_at - p.due))::numeric, 3),
       count(*), count(n.sent_at)
FROM page_notifications n JOIN (SELECT id, TIMESTAMPTZ '$due' AS due FROM pages) p ON p.id = n.page_id
SQL
)
mails=$(find "$work/mail" -name '*.eml' 2>/dev/null | wc -l)

bench_sign_in
cookie=$(awk '$6 == "firebreak_session" { print "firebreak_session=" $7 }' "$jar")
curl -fs -b "$jar" -o "$work/oncall.html" "$BASE/oncall"
bytes=$(wc -c <"$work/oncall.html")
echo "==> GET /oncall ($bytes bytes), 4 connections, ${DURATION}s"
wrk -t2 -c4 -d"${DURATION}s" --latency -H "Cookie: $cookie" "$BASE/oncall" | tee "$work/oncall.txt"
echo "==> reference: GET /health, 4 connections, ${DURATION}s"
wrk -t2 -c4 -d"${DURATION}s" --latency "$BASE/health" | tee "$work/health.txt"

ms() { # a wrk latency value ("850.00us", "12.3ms", "1.2s") in milliseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}
errors() { grep -E "Non-2xx|Socket errors" "$1" || echo "none"; }
p50() { ms "$(awk '$1 == "50%" { print $2 }' "$1")"; }
p99() { ms "$(awk '$1 == "99%" { print $2 }' "$1")"; }

echo
echo "== results ($PROFILE build, $(nproc) cores, PostgreSQL and wrk on the same machine) =="
printf '%s pages due at once: step notified  median %ss  p99 %ss  max %ss   (target: all within 5 s; %s notified)\n' \
  "$PAGES" "$notified_p50" "$notified_p99" "$notified_max" "$notified"
printf '                     email written   median %ss  p99 %ss  max %ss   (%s sent, %s .eml files)\n' \
  "$sent_p50" "$sent_p99" "$sent_max" "$sent" "$mails"
printf '/oncall (20 schedules)  median %s ms  p99 %s ms  (target median < 20)  %s req/s  errors: %s\n' \
  "$(p50 "$work/oncall.txt")" "$(p99 "$work/oncall.txt")" "$(awk '/Requests\/sec/ { print $2 }' "$work/oncall.txt")" "$(errors "$work/oncall.txt")"
printf '/health (reference)     median %s ms  p99 %s ms  %s req/s\n' \
  "$(p50 "$work/health.txt")" "$(p99 "$work/health.txt")" "$(awk '/Requests\/sec/ { print $2 }' "$work/health.txt")"
