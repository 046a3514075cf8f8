#!/usr/bin/env python3
"""Paced load generator for bench/alert_storm.sh (standard library only).

Posts N Alertmanager webhook payloads (version "4", exactly the shape
Alertmanager sends: nanosecond startsAt, endsAt 0001-01-01T00:00:00Z) for F
distinct fingerprints (one alert group each) to a Firebreak hook, evenly
spaced over D seconds, over keep-alive HTTP/1.1 connections (opened as
needed). Latency is measured from each request's scheduled send time to the
end of its response, so time spent waiting for a free connection counts too
(no coordinated omission). Prints one JSON object with the results.

With --declare it posts incidents to the API instead (URL is
/api/v1/incidents, TOKEN an API token; every post a new incident), for
bench/declare.sh.

usage: alert_storm.py URL TOKEN [--posts 1000] [--fingerprints 20] [--seconds 10] [--declare]
"""

import argparse
import asyncio
import json
import math
import time
import urllib.parse


def payload(i, fingerprints):
    f = i % fingerprints
    name = f"StormAlert{f:02d}"
    labels = {"alertname": name, "service": "checkout", "severity": "critical" if f % 2 == 0 else "warning"}
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": f"storm alert {f} (post {i})"},
        "startsAt": "2026-11-21T01:14:15.725947033Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example.test/graph",
        "fingerprint": f"{0x5700000000000000 + f:016x}",
    }
    body = {
        "receiver": "firebreak",
        "status": "firing",
        "alerts": [alert],
        "groupLabels": {"alertname": name},
        "commonLabels": labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://127.0.0.1:9093",
        "version": "4",
        "groupKey": '{}:{alertname="%s"}' % name,
        "truncatedAlerts": 0,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def declaration(i):
    body = {
        "title": f"Load test incident {i}",
        "severity": "SEV3",
        "environment": "production",
        "detection_source": "alert",
    }
    return json.dumps(body, separators=(",", ":")).encode()


class Connection:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host, port):
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def post(self, host, path, token, body):
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nUser-Agent: Alertmanager/0.25.0\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("connection closed")
        status = int(status_line.split()[1])
        length, chunked, close = 0, False, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                close = True
        if chunked:
            data = b""
            while True:
                size = int((await self.reader.readline()).strip(), 16)
                if size == 0:
                    await self.reader.readline()
                    break
                data += await self.reader.readexactly(size)
                await self.reader.readline()
        else:
            data = await self.reader.readexactly(length)
        return status, data, close

    def close(self):
        self.writer.close()


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    # Nearest rank.
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("token")
    ap.add_argument("--posts", type=int, default=1000)
    ap.add_argument("--fingerprints", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--declare", action="store_true")
    args = ap.parse_args()
    url = urllib.parse.urlsplit(args.url)
    host, port, path = url.hostname, url.port or 80, url.path
    if args.declare:
        bodies = [declaration(i) for i in range(args.posts)]
    else:
        bodies = [payload(i, args.fingerprints) for i in range(args.posts)]
    idle = []
    opened = 0
    latencies, statuses, errors = [], {}, []
    openers, repeats = [], []  # the first post of each fingerprint opens its incident
    incidents = set()
    interval = args.seconds / args.posts
    start = time.perf_counter() + 0.2

    async def one(i):
        nonlocal opened
        scheduled = start + i * interval
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        conn = None
        # Reuse the most recently used connection, unless the server may have
        # closed it for idleness (its keep-alive is 5 s).
        while idle and conn is None:
            c, since = idle.pop()
            if time.perf_counter() - since < 2.0:
                conn = c
            else:
                c.close()
        try:
            reused = conn is not None
            if conn is None:
                conn = await Connection.open(host, port)
                opened += 1
            try:
                status, data, close = await conn.post(f"{host}:{port}", path, args.token, bodies[i])
            except (ConnectionError, asyncio.IncompleteReadError):
                if not reused:
                    raise
                # Closed by the server while idle, before answering: what HTTP
                # clients (Alertmanager's too) retry once on a new connection.
                conn.close()
                conn = await Connection.open(host, port)
                opened += 1
                status, data, close = await conn.post(f"{host}:{port}", path, args.token, bodies[i])
            latencies.append(time.perf_counter() - scheduled)
            (openers if i < args.fingerprints else repeats).append(time.perf_counter() - scheduled)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                incidents.update(json.loads(data).get("incidents", []))
            elif status == 201 and args.declare:
                incidents.add(json.loads(data).get("id"))
            else:
                errors.append(f"{status}: {data[:200]!r}")
            if close:
                conn.close()
            else:
                idle.append((conn, time.perf_counter()))
        except Exception as e:  # noqa: BLE001 - every failure is a lost alert: count it
            errors.append(repr(e))
            if conn is not None:
                conn.close()

    await asyncio.gather(*(one(i) for i in range(args.posts)))
    elapsed = time.perf_counter() - start
    for c, _ in idle:
        c.close()
    ms = sorted(x * 1000 for x in latencies)
    print(json.dumps({
        "posts": args.posts,
        "fingerprints": args.fingerprints,
        "elapsed_s": round(elapsed, 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": len(errors),
        "first_errors": errors[:5],
        "connections": opened,
        "incidents_in_answers": len(incidents),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(ms[-1], 2) if ms else None,
        "opening_posts_max_ms": round(max(openers) * 1000, 2) if openers else None,
        "later_posts_p99_ms": round(percentile(sorted(x * 1000 for x in repeats), 99), 2),
    }))


if __name__ == "__main__":
    asyncio.run(main())
