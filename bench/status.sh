#!/usr/bin/env bash
# Status-page spike benchmark (issue 18): a release build with 20 components,
# 3 active public incidents and 90 days of status changes, measured with wrk
# at 64 and 256 connections against /status and /api/v2/summary.json, with
# and without "Accept-Encoding: gzip", side by side with nginx serving the
# same bytes (worker_processes auto, sendfile on, gzip_static with Firebreak's
# own gzip bytes, so both send exactly the same thing).
# Targets: Firebreak at least 0.8x nginx's requests/s in every case; p99
# under 20 ms at 256 connections; zero errors; peak RSS under 64 MiB.
# Rerun any time: ./bench/status.sh   (DURATION=30 for longer runs;
# RESULTS=FILE appends one line per measure for bench/all.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

PORT=${PORT:-18183}
NGINX_PORT=${NGINX_PORT:-18184}
DURATION=${DURATION:-10}

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
nginx_stop() { if [ -f "$work/nginx.pid" ]; then kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; fi; }
trap 'nginx_stop; bench_cleanup' EXIT

bench_build
bench_database firebreak_bench_status
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

bench_serve "$PORT"
for _ in $(seq 1 100); do curl -fs -o /dev/null "$BASE/status" && break; sleep 0.1; done

# nginx's copy: the same bytes, plain and gzipped (gzip_static serves the .gz).
mkdir -p "$work/www/api/v2" "$work/nginx-tmp"
curl -fs "$BASE/status" -o "$work/www/status"
curl -fs -H 'Accept-Encoding: gzip' "$BASE/status" -o "$work/www/status.gz"
curl -fs "$BASE/api/v2/summary.json" -o "$work/www/api/v2/summary.json"
curl -fs -H 'Accept-Encoding: gzip' "$BASE/api/v2/summary.json" -o "$work/www/api/v2/summary.json.gz"
echo "==> /status is $(wc -c <"$work/www/status") bytes ($(wc -c <"$work/www/status.gz") gzipped)," \
  "/api/v2/summary.json $(wc -c <"$work/www/api/v2/summary.json") ($(wc -c <"$work/www/api/v2/summary.json.gz") gzipped)"

{
  if [ "$(id -u)" = 0 ]; then echo "user root;"; fi
  cat <<NGINX
worker_processes auto;
daemon on;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  gzip_static on;
  gzip_vary on;
  client_body_temp_path $work/nginx-tmp/body;
  proxy_temp_path $work/nginx-tmp/proxy;
  fastcgi_temp_path $work/nginx-tmp/fastcgi;
  uwsgi_temp_path $work/nginx-tmp/uwsgi;
  scgi_temp_path $work/nginx-tmp/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $work/www;
    location = /status { default_type "text/html; charset=utf-8"; }
    location = /api/v2/summary.json { default_type "application/json"; }
  }
}
NGINX
} >"$work/nginx.conf"
"$nginx_bin" -c "$work/nginx.conf" -p "$work"
NGINX_BASE="http://127.0.0.1:$NGINX_PORT"
for _ in $(seq 1 50); do curl -fs -o /dev/null "$NGINX_BASE/status" && break; sleep 0.1; done
for path in /status /api/v2/summary.json; do
  cmp -s <(curl -fs "$BASE$path") <(curl -fs "$NGINX_BASE$path") || { echo "nginx serves other bytes for $path"; exit 1; }
  cmp -s <(curl -fs -H 'Accept-Encoding: gzip' "$BASE$path") <(curl -fs -H 'Accept-Encoding: gzip' "$NGINX_BASE$path") ||
    { echo "nginx serves other gzip bytes for $path"; exit 1; }
done

run() { # name url connections encoding
  local header=()
  if [ "$4" = gzip ]; then header=(-H 'Accept-Encoding: gzip'); fi
  wrk -t2 -c"$3" -d"${DURATION}s" --latency "${header[@]}" "$2" >"$work/$1-$3-$4.txt"
}
ms() { # a wrk latency value ("850.00us", "12.3ms", "1.2s") in milliseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}
rps() { awk '/Requests\/sec/ { printf "%.0f", $2 }' "$work/$1.txt"; }
p99() { ms "$(awk '$1 == "99%" { print $2 }' "$work/$1.txt")"; }
errors() { # non-2xx/3xx responses plus socket errors
  awk '/Non-2xx/ { n += $NF } /Socket errors/ { gsub(",", ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' "$work/$1.txt"
}

echo "==> wrk, ${DURATION}s per run, Firebreak and nginx in turn"
for enc in identity gzip; do
  for c in 64 256; do
    for page in status summary; do
      path=/status
      if [ "$page" = summary ]; then path=/api/v2/summary.json; fi
      run "firebreak-$page" "$BASE$path" "$c" "$enc"
      run "nginx-$page" "$NGINX_BASE$path" "$c" "$enc"
    done
  done
done
rss=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")

echo
echo "== results ($(nproc) cores; wrk, nginx and Firebreak on the same machine) =="
printf '%-22s %-9s %6s %10s %10s %7s %9s %9s %7s\n' page encoding conns "Firebreak" nginx ratio "p99 ms" "nginx p99" errors
for enc in identity gzip; do
  for c in 64 256; do
    for page in status summary; do
      f="firebreak-$page-$c-$enc" n="nginx-$page-$c-$enc"
      ratio=$(awk -v a="$(rps "$f")" -v b="$(rps "$n")" 'BEGIN { printf "%.2f", a / b }')
      label=/status
      if [ "$page" = summary ]; then label=/api/v2/summary.json; fi
      printf '%-22s %-9s %6s %10s %10s %7s %9s %9s %7s\n' "$label" "$enc" "$c" "$(rps "$f")" "$(rps "$n")" \
        "$ratio" "$(p99 "$f")" "$(p99 "$n")" "$(errors "$f")"
      if [ -n "${RESULTS:-}" ]; then
        echo "$label $enc ${c}c req/s|$(rps "$f")|$(rps "$n") (nginx)|${ratio}x|>= 0.8x|$(awk -v r="$ratio" 'BEGIN { print (r >= 0.8) ? "pass" : "FAIL" }')" >>"$RESULTS"
        if [ "$c" = 256 ]; then
          echo "$label $enc 256c p99|$(p99 "$f") ms|$(p99 "$n") ms (nginx)||< 20 ms|$(awk -v p="$(p99 "$f")" 'BEGIN { print (p < 20) ? "pass" : "FAIL" }')" >>"$RESULTS"
        fi
      fi
    done
  done
done
echo "Firebreak peak memory (VmHWM): $rss MiB (target < 64 MiB)"
if [ -n "${RESULTS:-}" ]; then
  echo "status page peak RSS|$rss MiB|||< 64 MiB|$(awk -v m="$rss" 'BEGIN { print (m < 64) ? "pass" : "FAIL" }')" >>"$RESULTS"
fi
