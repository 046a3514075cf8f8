#!/usr/bin/env bash
# Alert-to-phone latency (issue 14): Alertmanager posts an alert; how long until
# the on-call people have it? One alert source pages a one-step policy naming
# three people: one by email (through a real SMTP server, aiosmtpd), one by an
# ntfy topic, one by a signed webhook (both a local HTTP receiver). ALERTS
# alerts (each a new alert group: a new incident, a new page) are posted GAP
# seconds apart, so the one-message-a-minute limit (ESCALATION_MINUTE_SECS=1
# here) never holds one back. Each latency runs from the post to the message's
# arrival at its receiver.          targets: email p99 < 2 s; ntfy and webhook p99 < 1 s
# Rerun any time: ./bench/paging_latency.sh  (ALERTS=50, GAP=1.2; PROFILE=debug
# measures the debug build instead, without building release)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

PORT=${PORT:-18186}
SMTP_PORT=${SMTP_PORT:-18187}
HTTP_PORT=${HTTP_PORT:-18188}
ALERTS=${ALERTS:-20}
GAP=${GAP:-1.5}

python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install -q aiosmtpd
bench_build
bench_database firebreak_bench_paging_latency

psql -q "$URL" <<SQL
INSERT INTO users (email, display_name, password_hash, role) VALUES
  ('mail@bench.example', 'Mail Person', 'not-a-hash', 'responder'),
  ('ntfy@bench.example', 'Ntfy Person', 'not-a-hash', 'responder'),
  ('hook@bench.example', 'Hook Person', 'not-a-hash', 'responder');
INSERT INTO contact_methods (user_id, kind, label, address, verified_at, signing_secret)
  SELECT id, 'ntfy', 'Phone', 'http://127.0.0.1:$HTTP_PORT/ntfy/bench', now(), NULL
  FROM users WHERE email = 'ntfy@bench.example';
INSERT INTO contact_methods (user_id, kind, label, address, verified_at, signing_secret)
  SELECT id, 'webhook', 'Pager bridge', 'http://127.0.0.1:$HTTP_PORT/webhook', now(), 'whsec_benchmark'
  FROM users WHERE email = 'hook@bench.example';
INSERT INTO notification_rules (user_id, contact_method_id, delay_minutes)
  SELECT user_id, id, 0 FROM contact_methods;
INSERT INTO escalation_policies (name) VALUES ('Latency');
INSERT INTO escalation_steps (policy_id, position, wait_minutes)
  SELECT id, 0, 30 FROM escalation_policies WHERE name = 'Latency';
INSERT INTO escalation_step_targets (step_id, user_id)
  SELECT s.id, u.id FROM escalation_steps s, users u WHERE u.email LIKE '%@bench.example' AND u.role = 'responder';
SQL

# The receivers first (the server's outbox connects to the SMTP one); they
# wait for the alert source, made once the server runs.
python3 bench/paging_latency.py "$work/hook" --smtp-port "$SMTP_PORT" --http-port "$HTTP_PORT" \
  --alerts "$ALERTS" --gap "$GAP" >"$work/result.txt" 2>&1 &
driver=$!
for _ in $(seq 1 100); do grep -q "receivers ready" "$work/result.txt" 2>/dev/null && break; sleep 0.1; done
bench_serve "$PORT" SMTP_URL="smtp://127.0.0.1:$SMTP_PORT" OUTGOING_ALLOWED_HOSTS=127.0.0.1 \
  ESCALATION_MINUTE_SECS=1 DB_POOL_SIZE=16
bench_sign_in
bench_alert_source "Latency Alertmanager"
psql -q "$URL" -c "UPDATE alert_sources SET escalation_policy_id = (SELECT id FROM escalation_policies WHERE name = 'Latency')"
echo "$hook $hook_token" >"$work/hook"

echo "==> $ALERTS alerts, ${GAP}s apart, each paging 3 people (email, ntfy, webhook) ($PROFILE build)"
wait "$driver"
result=$(tail -1 "$work/result.txt")
echo "$result"
pages=$(psql -tAq "$URL" -c "SELECT count(*) FROM pages")
failed=$(psql -tAq "$URL" -c "SELECT count(*) FROM page_notifications WHERE status <> 'sent'")
r() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(d$2)" "$result"; }

echo
echo "== results ($PROFILE build, $(nproc) cores; PostgreSQL, receivers and sender on the same machine) =="
printf 'alerts posted %s, accepted %s; pages %s; messages not sent %s\n' "$(r "$result" "['alerts']")" \
  "$(r "$result" "['accepted']")" "$pages" "$failed"
for receiver in email ntfy webhook; do
  target=1; [ "$receiver" = email ] && target=2
  printf '%-8s alert -> arrival  median %ss  p99 %ss  max %ss  (%s arrived; target p99 < %s s)\n' "$receiver" \
    "$(r "$result" "['$receiver']['median_s']")" "$(r "$result" "['$receiver']['p99_s']")" \
    "$(r "$result" "['$receiver']['max_s']")" "$(r "$result" "['$receiver']['arrived']")" "$target"
done
