#!/usr/bin/env bash
# Runs every issue-18 benchmark against one release build and prints one
# table: measure, Firebreak, reference, ratio, target, pass/fail. Each
# benchmark sets up its own data and references (nginx, smtplib) in the same
# run; see each script for what it measures.
# Rerun any time: ./bench/all.sh   (the README's table is its last output)
set -euo pipefail
cd "$(dirname "$0")/.."

export PROFILE=${PROFILE:-release}
RESULTS=$(mktemp)
export RESULTS
trap 'rm -f "$RESULTS"' EXIT
echo "==> building the $PROFILE binary once"
if [ "$PROFILE" = release ]; then
  cargo build --release --quiet --bin firebreak
else
  cargo build --quiet --bin firebreak
fi
export BENCH_BUILT=1

run() {
  echo
  echo "################ $*"
  "$@" || echo "measure|$1 failed to run|||-|FAIL" >>"$RESULTS"
}
run bench/status.sh
run bench/fanout.sh
run bench/declare.sh
POSTS=5000 FINGERPRINTS=50 SECONDS_=5 BUILD=$PROFILE run bench/alert_storm.sh
run bench/room.sh

echo
echo "== Firebreak benchmarks, $(date -u +%Y-%m-%d), $(nproc) cores, $PROFILE build =="
{
  echo "measure|Firebreak|reference|ratio|target|result"
  cat "$RESULTS"
} | awk -F'|' '{ printf "%-46s %-24s %-24s %-7s %-24s %s\n", $1, $2, $3, $4, $5, $6 }'
