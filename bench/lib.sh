# What every benchmark in bench/ does first, sourced after `set -euo pipefail`
# and `cd` to the repository:
#
#   bench_build            builds the binary ($PROFILE: release by default,
#                          debug to measure the debug build) and sets $bin
#   bench_database NAME    a fresh, migrated database with an admin
#                          (admin@bench.example / benchmark-password); sets $URL
#   bench_serve PORT ENV.. starts `firebreak serve` with those extra
#                          environment settings, waits for /health; sets $BASE, $pid
#   bench_sign_in          signs the admin in; the cookie jar is $jar
#   bench_csrf PATH        prints the CSRF token of a page (signed in)
#   bench_api_token ROLE   creates an API token through the admin form; sets $api_token
#   bench_alert_source NAME [COMPONENT_MAPPING]
#                          creates an Alertmanager source through the admin form
#                          (label "service" names components); sets $hook and
#                          $hook_token (the token shown once)
#
# $work is a temporary directory removed on exit, with the server.

SERVER=${BENCH_DATABASE_SERVER:-postgres://postgres@127.0.0.1:5432}
PROFILE=${PROFILE:-release}
work=$(mktemp -d)
pid=
bench_cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap bench_cleanup EXIT

bench_build() {
  bin=target/$PROFILE/firebreak
  # bench/all.sh builds once and sets BENCH_BUILT, so edits made meanwhile
  # cannot rebuild the binary between two benchmarks.
  if [ -n "${BENCH_BUILT:-}" ] && [ -x "$bin" ]; then return 0; fi
  if [ "$PROFILE" = release ]; then
    echo "==> building the release binary"
    cargo build --release --quiet --bin firebreak
  else
    echo "==> building the $PROFILE binary"
    cargo build --quiet --bin firebreak
  fi
  bin=target/$PROFILE/firebreak
}

bench_database() {
  URL="$SERVER/$1"
  psql -q "$SERVER/postgres" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)"
  DATABASE_URL=$URL "$bin" migrate >/dev/null
  FIREBREAK_PASSWORD=benchmark-password DATABASE_URL=$URL "$bin" user add \
    --email admin@bench.example --name "Bench Admin" --role admin >/dev/null
}

bench_serve() {
  local port=$1
  shift
  BASE="http://127.0.0.1:$port"
  env DATABASE_URL="$URL" BIND="127.0.0.1:$port" BASE_URL="$BASE" \
    SESSION_KEY="$(head -c 64 /dev/urandom | base64 -w0)" RUST_LOG=warn "$@" \
    "$bin" serve >"$work/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do
    curl -fs "$BASE/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "the server did not start:"
  cat "$work/server.log"
  return 1
}

jar="$work/cookies"
bench_csrf() {
  curl -fs -b "$jar" -c "$jar" -o "$work/page.html" "$BASE$1"
  grep -m1 -o 'name="csrf_token" value="[^"]*"' "$work/page.html" | sed 's/.*value="//; s/"$//'
}

bench_sign_in() {
  local t
  t=$(bench_csrf /login)
  curl -fs -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf_token=$t" \
    --data-urlencode "email=admin@bench.example" --data-urlencode "password=benchmark-password" "$BASE/login"
}

bench_alert_source() {
  local t page
  t=$(bench_csrf /admin/alert-sources)
  page=$(curl -fs -b "$jar" -c "$jar" -o /dev/null -w '%{redirect_url}' --data-urlencode "csrf_token=$t" \
    --data-urlencode "name=$1" --data-urlencode "kind=alertmanager" \
    --data-urlencode "severity_label=severity" --data-urlencode $'severity_mapping=critical = 1\nwarning = 3' \
    --data-urlencode "default_severity=3" --data-urlencode "component_label=service" \
    --data-urlencode "component_mapping=${2:-}" "$BASE/admin/alert-sources")
  curl -fs -b "$jar" -c "$jar" -o "$work/source.html" "$page"
  hook_token=$(grep -o 'id="new-token"[^>]*' "$work/source.html" | grep -o 'value="[^"]*"' | sed 's/value="//; s/"$//')
  hook=$(grep -m1 -o "$BASE/hooks/alerts/[A-Za-z0-9_-]*" "$work/source.html")
  if [ -z "$hook_token" ] || [ -z "$hook" ]; then
    echo "could not create the alert source"
    return 1
  fi
}

# bench_api_token ROLE   creates an API token through the admin form; sets $api_token
bench_api_token() {
  local t
  t=$(bench_csrf /admin/api-tokens)
  curl -fs -b "$jar" -c "$jar" -o "$work/token.html" --data-urlencode "csrf_token=$t" \
    --data-urlencode "name=benchmark" --data-urlencode "role=$1" "$BASE/admin/api-tokens"
  api_token=$(grep -o 'id="api-token"[^>]*' "$work/token.html" | grep -o 'value="[^"]*"' | sed 's/value="//; s/"$//')
  if [ -z "$api_token" ]; then
    echo "could not create the API token"
    return 1
  fi
}

# bench_smtp_sink PORT OUT   starts Postfix's smtp-sink (a fast SMTP server
#                            made for load tests, C) on PORT, its running
#                            counters written to OUT; sets $smtp_sink_pid.
#                            Taken from Debian's postfix package, unpacked
#                            into ~/.cache (no mail daemon is installed).
# bench_smtp_sink_count OUT  how many messages it has accepted so far
bench_smtp_sink() {
  local dir=${XDG_CACHE_HOME:-$HOME/.cache}/firebreak-bench/postfix
  if [ ! -x "$dir/usr/sbin/smtp-sink" ]; then
    echo "==> unpacking Postfix's smtp-sink into $dir"
    mkdir -p "$dir"
    (cd "$work" && apt-get download postfix >/dev/null 2>&1 ||
      { as_root apt-get update -qq && apt-get download postfix >/dev/null; })
    dpkg -x "$work"/postfix_*.deb "$dir"
  fi
  local user
  user=$(id -un)
  if [ "$(id -u)" = 0 ]; then user=nobody; fi
  LD_LIBRARY_PATH="$dir/usr/lib/postfix" "$dir/usr/sbin/smtp-sink" -c -u "$user" -m 256 \
    "127.0.0.1:$1" 1024 >"$2" 2>&1 &
  smtp_sink_pid=$!
  for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "smtp-sink did not start:"
  cat "$2"
  return 1
}

bench_smtp_sink_count() {
  tr '\r' '\n' <"$1" | grep -o 'mesg=[0-9]*' | tail -1 | cut -d= -f2 || true
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
