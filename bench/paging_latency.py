#!/usr/bin/env python3
"""Alert-to-phone latency for bench/paging_latency.sh.

Runs two receivers: a real SMTP server (aiosmtpd) and a small HTTP server
standing in for an ntfy topic and a signed webhook. Waits for HOOK_FILE to
hold "HOOK_URL TOKEN" (the alert source, made once the server runs), then
posts N Alertmanager alerts (each a new alert group, so
a new incident and a new page) to the hook, one every --gap seconds. For each
alert it records when the post was sent and when each receiver got the page
that names it, and prints one JSON object: per receiver, the latency from the
alert's post to the message's arrival (median, p99, max) and how many arrived.

usage: paging_latency.py HOOK_FILE --smtp-port P --http-port Q [--alerts 20] [--gap 1.5]
"""

import argparse
import asyncio
import json
import math
import re
import time
import urllib.request

from aiosmtpd.controller import Controller
from http_sink import read_request

TAG = re.compile(rb"LatencyProbe(\d+)")


class Arrivals:
    """When each receiver first saw each alert's tag."""

    def __init__(self):
        self.seen = {}

    def record(self, receiver, data):
        now = time.time()
        for m in TAG.finditer(data):
            self.seen.setdefault((receiver, int(m.group(1))), now)


class Smtp:
    def __init__(self, arrivals):
        self.arrivals = arrivals

    async def handle_DATA(self, server, session, envelope):
        self.arrivals.record("email", envelope.content)
        return "250 OK"


async def http_receiver(arrivals, port):
    async def handle(reader, writer):
        try:
            while (request := await read_request(reader)) is not None:
                path, body = request
                arrivals.record("ntfy" if path.startswith(b"/ntfy") else "webhook", body)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, IndexError, ValueError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", port)


def alert(i):
    name = f"LatencyProbe{i:03d}"
    labels = {"alertname": name, "severity": "critical"}
    a = {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": f"{name} is failing"},
        "startsAt": "2026-12-03T01:14:15.725947033Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example.test/graph",
        "fingerprint": f"{0x7100000000000000 + i:016x}",
    }
    return json.dumps(
        {
            "receiver": "firebreak",
            "status": "firing",
            "alerts": [a],
            "groupLabels": {"alertname": name},
            "commonLabels": labels,
            "commonAnnotations": a["annotations"],
            "externalURL": "http://127.0.0.1:9093",
            "version": "4",
            "groupKey": '{}:{alertname="%s"}' % name,
            "truncatedAlerts": 0,
        }
    ).encode()


def post(hook, token, body):
    req = urllib.request.Request(
        hook, data=body, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()
        return resp.status


def nearest_rank(values, p):
    if not values:
        return None
    k = max(0, min(len(values) - 1, math.ceil(p / 100 * len(values)) - 1))
    return round(values[k], 3)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hook_file")
    ap.add_argument("--smtp-port", type=int, required=True)
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--alerts", type=int, default=20)
    ap.add_argument("--gap", type=float, default=1.5)
    ap.add_argument("--wait", type=float, default=30.0)
    args = ap.parse_args()

    arrivals = Arrivals()
    smtp = Controller(Smtp(arrivals), hostname="127.0.0.1", port=args.smtp_port)
    smtp.start()
    http = await http_receiver(arrivals, args.http_port)
    print("receivers ready", flush=True)

    loop = asyncio.get_running_loop()
    hook_token = []
    for _ in range(3000):
        try:
            with open(args.hook_file) as f:
                hook_token = f.read().split()
        except OSError:
            pass
        if len(hook_token) == 2:
            break
        await asyncio.sleep(0.1)
    hook, token = hook_token

    sent = {}
    statuses = []
    for i in range(args.alerts):
        sent[i] = time.time()
        statuses.append(await loop.run_in_executor(None, post, hook, token, alert(i)))
        await asyncio.sleep(args.gap)

    receivers = ["email", "ntfy", "webhook"]
    deadline = time.time() + args.wait
    while time.time() < deadline:
        if all((r, i) in arrivals.seen for r in receivers for i in sent):
            break
        await asyncio.sleep(0.1)

    result = {"alerts": args.alerts, "accepted": sum(1 for s in statuses if 200 <= s < 300)}
    for r in receivers:
        lat = sorted(arrivals.seen[(r, i)] - sent[i] for i in sent if (r, i) in arrivals.seen)
        result[r] = {
            "arrived": len(lat),
            "median_s": nearest_rank(lat, 50),
            "p99_s": nearest_rank(lat, 99),
            "max_s": round(lat[-1], 3) if lat else None,
        }
    print(json.dumps(result), flush=True)
    http.close()
    smtp.stop()


if __name__ == "__main__":
    asyncio.run(main())
