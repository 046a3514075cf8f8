#!/usr/bin/env bash
# Status-page spike benchmark: a release build with 20 components, 3 active
# public incidents and 90 days of status changes, measured with wrk at 64 and
# 256 connections against /status and /api/v2/summary.json, side by side with
# nginx serving a saved copy of the same /status page as a static file.
# Targets: Firebreak at least half of nginx's requests/s, p99 under 20 ms at
# 256 connections, zero errors, server memory (peak RSS) under 64 MiB.
# Rerun any time: ./bench/status.sh   (DURATION=30 for longer runs)
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-18183}
NGINX_PORT=${NGINX_PORT:-18184}
DURATION=${DURATION:-15}
DB=firebreak_bench_status
SERVER=${BENCH_DATABASE_SERVER:-postgres://postgres@127.0.0.1:5432}
URL="$SERVER/$DB"
BASE="http://127.0.0.1:$PORT"
work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

echo "==> building the release binary"
cargo build --release --quiet
bin=target/release/firebreak

psql -q "$SERVER/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
DATABASE_URL=$URL "$bin" migrate >/dev/null
FIREBREAK_PASSWORD=benchmark-password DATABASE_URL=$URL "$bin" user add \
  --email lead@bench.example --name "Bench Lead" --role responder >/dev/null

echo "==> seeding 20 components, 90 days of status changes, 3 active public incidents, 1 maintenance"
psql -q "$URL" <<'SQL'
INSERT INTO components (name, description, group_name, position, created_at, updated_at)
  SELECT 'Service ' || g, 'What service ' || g || ' does for customers',
         (ARRAY['', 'Web', 'API', 'Payments', 'Infrastructure'])[1 + g % 5], g,
         now() - interval '200 days', now() - interval '200 days'
  FROM generate_series(1, 20) g;
-- A few outages per component over the last 90 days, for realistic bars.
INSERT INTO component_status_changes (component_id, old_status, new_status, changed_at)
  SELECT c.id, s.old, s.new, now() - (c.id * 4 + k * 17) * interval '1 day' + s.offs
  FROM components c, generate_series(0, 4) k,
       (VALUES ('operational', 'partial_outage', interval '0'),
               ('partial_outage', 'operational', interval '2 hours')) AS s(old, new, offs);
INSERT INTO incidents (title, summary, kind, severity, status, detection_source, visibility,
                       impact_started_at, detected_at, declared_at, declared_by)
  SELECT 'Elevated errors on service ' || g, '', 'outage', 1 + g, 'identified', 'alert', 'public',
         now() - g * interval '1 hour', now() - g * interval '1 hour', now() - g * interval '1 hour', 1
  FROM generate_series(1, 3) g;
INSERT INTO incident_components (incident_id, component_id) SELECT id, id FROM incidents;
INSERT INTO incident_updates (incident_id, status, audience, impact_started_at, subject, body, created_at)
  SELECT i.id, (ARRAY['investigating', 'identified', 'identified'])[u], 'public', i.impact_started_at,
         'Update ' || u,
         'Some requests to service ' || i.id || ' fail with errors.' || E'\n' ||
         'We are rolling back the latest deploy. Next update within 30 minutes.',
         i.declared_at + u * interval '10 minutes'
  FROM incidents i, generate_series(1, 3) u;
INSERT INTO component_status_changes (component_id, old_status, new_status, changed_at, incident_id)
  SELECT id, 'operational', 'partial_outage', impact_started_at, id FROM incidents;
UPDATE components SET status = 'partial_outage', updated_at = now() WHERE id IN (1, 2, 3);
INSERT INTO maintenances (title, message, starts_at, ends_at)
  VALUES ('Database upgrade', 'We upgrade the primary database.', now() + interval '2 days',
          now() + interval '2 days 2 hours');
INSERT INTO maintenance_components (maintenance_id, component_id) VALUES (1, 5);
ANALYZE;
SQL

DATABASE_URL=$URL BIND=127.0.0.1:$PORT SESSION_KEY=$(head -c 64 /dev/urandom | base64 -w0) \
  RUST_LOG=warn "$bin" serve >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -fs "$BASE/health" >/dev/null 2>&1 && break; sleep 0.1; done
for _ in $(seq 1 100); do curl -fs -o /dev/null "$BASE/status" && break; sleep 0.1; done

mkdir -p "$work/www" "$work/nginx-tmp"
curl -fs "$BASE/status" -o "$work/www/status.html"
curl -fs "$BASE/api/v2/summary.json" -o "$work/summary.json"
page_bytes=$(wc -c <"$work/www/status.html")
summary_bytes=$(wc -c <"$work/summary.json")
echo "==> /status is $page_bytes bytes, /api/v2/summary.json $summary_bytes bytes (uncompressed, as wrk asks)"

# nginx as the current user on a high port, same number of workers as Firebreak.
workers=$(nproc)
{
  [ "$(id -u)" = 0 ] && echo "user root;"
  cat <<NGINX
worker_processes $workers;
daemon on;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx-tmp/body;
  proxy_temp_path $work/nginx-tmp/proxy;
  fastcgi_temp_path $work/nginx-tmp/fastcgi;
  uwsgi_temp_path $work/nginx-tmp/uwsgi;
  scgi_temp_path $work/nginx-tmp/scgi;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $work/www;
    location = /status { default_type "text/html; charset=utf-8"; try_files /status.html =404; }
  }
}
NGINX
} >"$work/nginx.conf"
"$nginx_bin" -c "$work/nginx.conf" -p "$work"
for _ in $(seq 1 50); do curl -fs -o /dev/null "http://127.0.0.1:$NGINX_PORT/status" && break; sleep 0.1; done
cmp -s "$work/www/status.html" <(curl -fs "http://127.0.0.1:$NGINX_PORT/status") || { echo "nginx serves something else"; exit 1; }

run() { # name url connections
  echo "==> $1, $3 connections, ${DURATION}s"
  wrk -t2 -c"$3" -d"${DURATION}s" --latency "$2" >"$work/$1-$3.txt"
  grep -E "Requests/sec|99%|Non-2xx|Socket errors" "$work/$1-$3.txt" | sed 's/^/    /'
}
for c in 64 256; do
  run firebreak-status "$BASE/status" "$c"
  run firebreak-summary "$BASE/api/v2/summary.json" "$c"
  run nginx-status "http://127.0.0.1:$NGINX_PORT/status" "$c"
done

ms() { # a wrk latency value ("850.00us", "12.3ms", "1.2s") in milliseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}
rps() { awk '/Requests\/sec/ { print $2 }' "$work/$1.txt"; }
p99() { ms "$(awk '$1 == "99%" { print $2 }' "$work/$1.txt")"; }
errors() { # non-2xx/3xx responses plus socket errors
  awk '/Non-2xx/ { n += $NF } /Socket errors/ { gsub(",", ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' "$work/$1.txt"
}
rss=$(awk '/VmHWM/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$pid/status")

echo
echo "== results ($(nproc) cores, wrk and nginx on the same machine, no compression) =="
printf '%-30s %6s %12s %10s %8s\n' target conns "req/s" "p99 ms" errors
for c in 64 256; do
  for t in firebreak-status firebreak-summary nginx-status; do
    printf '%-30s %6s %12s %10s %8s\n' "$t" "$c" "$(rps "$t-$c")" "$(p99 "$t-$c")" "$(errors "$t-$c")"
  done
done
for c in 64 256; do
  ratio=$(awk -v a="$(rps "firebreak-status-$c")" -v b="$(rps "nginx-status-$c")" 'BEGIN { printf "%.2f", a / b }')
  echo "Firebreak /status vs nginx at $c connections: $ratio x nginx's requests/s (target >= 0.50)"
done
echo "p99 at 256 connections: /status $(p99 firebreak-status-256) ms, summary.json $(p99 firebreak-summary-256) ms (target < 20)"
echo "Firebreak peak memory (VmHWM): $rss (target < 64 MiB)"
