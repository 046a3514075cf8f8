#!/usr/bin/env bash
# Incident-room benchmark: seeds one incident with 2,000 timeline entries, 50
# tasks and 20 role changes, then measures with wrk against a release build:
#   1. the room page (GET /incidents/{id}; it sends the newest 200 entries),
#      4 connections                                          -> target median < 5 ms
#   2. a live refresh after one note (GET .../entries?after=N) -> bytes, median
#   3. note appends (POST /incidents/{id}/notes), 32 writers -> target p99 < 25 ms
# and prints the numbers. Rerun any time: ./bench/room.sh  (DURATION=30 for longer
# runs; PROFILE=debug measures the debug build instead, without building release)
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-18181}
DURATION=${DURATION:-15}
. bench/lib.sh

command -v wrk >/dev/null || { as_root apt-get update -qq && as_root apt-get install -y -qq wrk; }
bench_build
bench_database firebreak_bench_room
bench_serve "$PORT" DB_POOL_SIZE=16
bench_sign_in
token() { bench_csrf "$1"; }
t=$(token /incidents/new)
room=$(curl -fs -b "$jar" -c "$jar" -o /dev/null -w '%{redirect_url}' --data-urlencode "csrf_token=$t" \
  --data-urlencode "title=Benchmark incident" --data-urlencode "severity=1" "$BASE/incidents")
id=${room##*/}

echo "==> seeding incident $id: 2,000 timeline entries, 50 tasks, 20 role changes"
psql -q "$URL" <<SQL
INSERT INTO users (email, display_name, password_hash, role)
  SELECT 'r' || g || '@bench.example', 'Responder ' || g, 'not-a-hash', 'responder' FROM generate_series(1, 10) g;
INSERT INTO timeline_entries (incident_id, occurred_at, author_id, kind, body, body_html)
  SELECT $id, now() - (2000 - g) * interval '1 second', 1, 'note',
         'Note ' || g || ': checked **replica lag** on db-' || (g % 7),
         '<p>Note ' || g || ': checked <strong>replica lag</strong> on db-' || (g % 7) || '</p>'
  FROM generate_series(1, 2000) g;
INSERT INTO tasks (incident_id, title, kind, status, assignee_id, timebox_minutes, started_at, created_by)
  SELECT $id, 'Task ' || g, (ARRAY['mitigation', 'cleanup', 'follow_up'])[1 + g % 3],
         (ARRAY['open', 'in_progress', 'done'])[1 + g % 3], 2 + g % 10,
         CASE WHEN g % 3 = 0 THEN 15 END, CASE WHEN g % 3 = 0 THEN now() - interval '20 minutes' END, 1
  FROM generate_series(1, 50) g;
INSERT INTO incident_roles (incident_id, role, user_id, assigned_by, assumed_at, relieved_at)
  SELECT $id, 'note_taker', 2 + g % 10, 1, now() - (21 - g) * interval '1 minute',
         CASE WHEN g < 20 THEN now() - (20 - g) * interval '1 minute' END
  FROM generate_series(1, 20) g;
ANALYZE;
SQL

cookie=$(awk '$6 == "firebreak_session" { print "firebreak_session=" $7 }' "$jar")
curl -fs -b "$jar" -o "$work/room.html" "$BASE/incidents/$id"
bytes=$(wc -c <"$work/room.html")
echo "==> room page: $bytes bytes"

echo "==> GET /incidents/$id, 4 connections, ${DURATION}s"
wrk -t2 -c4 -d"${DURATION}s" --latency -H "Cookie: $cookie" "$BASE/incidents/$id" | tee "$work/room.txt"

last=$(grep -m1 -o 'data-last-entry="[0-9]*"' "$work/room.html" | grep -o '[0-9]*')
t=$(token "/incidents/$id")
curl -fs -b "$jar" -o /dev/null --data-urlencode "csrf_token=$t" --data-urlencode "body=One more note" \
  "$BASE/incidents/$id/notes"
curl -fs -b "$jar" -o "$work/entries.html" "$BASE/incidents/$id/entries?after=$last"
entries_bytes=$(wc -c <"$work/entries.html")
echo "==> GET /incidents/$id/entries?after=$last (one new note: $entries_bytes bytes), 4 connections, ${DURATION}s"
wrk -t2 -c4 -d"${DURATION}s" --latency -H "Cookie: $cookie" "$BASE/incidents/$id/entries?after=$last" \
  | tee "$work/entries.txt"

cat >"$work/note.lua" <<LUA
wrk.method = "POST"
wrk.body = "csrf_token=$t&body=Benchmark+note+with+**markdown**"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "$cookie"
LUA
echo "==> POST /incidents/$id/notes, 32 writers, ${DURATION}s"
wrk -t2 -c32 -d"${DURATION}s" --latency -s "$work/note.lua" "$BASE/incidents/$id/notes" | tee "$work/notes.txt"

ms() { # a wrk latency value ("850.00us", "12.3ms", "1.2s") in milliseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}
errors() { grep -E "Non-2xx|Socket errors" "$1" || echo "none"; }
room_p50=$(ms "$(awk '$1 == "50%" { print $2 }' "$work/room.txt")")
room_rps=$(awk '/Requests\/sec/ { print $2 }' "$work/room.txt")
entries_p50=$(ms "$(awk '$1 == "50%" { print $2 }' "$work/entries.txt")")
note_p50=$(ms "$(awk '$1 == "50%" { print $2 }' "$work/notes.txt")")
note_p99=$(ms "$(awk '$1 == "99%" { print $2 }' "$work/notes.txt")")
note_rps=$(awk '/Requests\/sec/ { print $2 }' "$work/notes.txt")
entries=$(psql -tA "$URL" -c "SELECT count(*) FROM timeline_entries WHERE incident_id = $id")
rss=$(awk '/VmHWM/ { print $2 / 1024 " MiB" }' "/proc/$pid/status")

echo
echo "== results ($PROFILE build, $(nproc) cores, wrk on the same machine) =="
printf 'room page    median %8s ms  (target < 5)    %s req/s   %s bytes   errors: %s\n' "$room_p50" "$room_rps" "$bytes" "$(errors "$work/room.txt")"
printf 'live refresh median %8s ms  after one note: %s bytes (target < 5120)\n' "$entries_p50" "$entries_bytes"
printf 'note append  p99    %8s ms  (target < 25)   median %s ms   %s req/s   errors: %s\n' "$note_p99" "$note_p50" "$note_rps" "$(errors "$work/notes.txt")"
echo "timeline entries after the run: $entries; server peak memory: $rss"
if [ -n "${RESULTS:-}" ]; then
  echo "room first render, 2,000 entries, median|$room_p50 ms|||< 5 ms|$(awk -v p="$room_p50" 'BEGIN { print (p < 5) ? "pass" : "FAIL" }')" >>"$RESULTS"
fi
