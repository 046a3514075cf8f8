#!/usr/bin/env python3
"""Peak memory of Firebreak under a burst of concurrent wrong-password sign-ins
(issue 16, item 1). Standard library only.

Starts the firebreak binary on a fresh database, adds one user, then for each
burst size sends that many wrong-password sign-ins at the same moment (one
thread and connection each), and reports the answers by status, the process's
resident memory before and after (VmRSS) and its peak (VmHWM), and whether a
correct sign-in right after the burst succeeds.

usage: bench/sign_in_memory.py [--binary target/debug/firebreak] [--bursts 150,500]
       (PostgreSQL on 127.0.0.1:5432, user postgres, trust auth; each burst runs
       against its own fresh process and database)
"""

import argparse
import collections
import http.client
import json
import os
import re
import subprocess
import threading
import time
import urllib.parse
import uuid

PASSWORD = "the right password for the bench"


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def free_port():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def login_form(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", "/login")
    r = c.getresponse()
    body = r.read().decode()
    cookie = r.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', body).group(1)
    return cookie, token


def post_login(port, cookie, token, email, password):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    body = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": password})
    try:
        c.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
        r = c.getresponse()
        r.read()
        return r.status
    except Exception as e:  # noqa: BLE001 - a refused or dropped connection is a result too
        return type(e).__name__


def run(binary, burst):
    db = f"bench_signin_{uuid.uuid4().hex[:12]}"
    url = f"postgres://postgres@127.0.0.1:5432/{db}"
    port = free_port()
    env = dict(os.environ, DATABASE_URL=url, BIND=f"127.0.0.1:{port}", RUST_LOG="warn",
               FIREBREAK_PASSWORD=PASSWORD, MAIL_DIR=f"/tmp/{db}-mail")
    subprocess.run([binary, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([binary, "user", "add", "--email", "bench@example.test", "--name", "Bench", "--role", "admin"],
                   env=env, check=True, capture_output=True)
    proc = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        cookie, token = login_form(port)
        rss_before = status_kib(proc.pid, "VmRSS")
        results = collections.Counter()
        lock = threading.Lock()
        start = threading.Barrier(burst)

        def one(i):
            start.wait()
            s = post_login(port, cookie, token, f"nobody-{i}@example.test", "wrong")
            with lock:
                results[str(s)] += 1

        began = time.monotonic()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(burst)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - began
        correct = post_login(port, *login_form(port), "bench@example.test", PASSWORD)
        return {
            "concurrent_sign_ins": burst,
            "answers": dict(results),
            "seconds": round(elapsed, 2),
            "rss_before_mib": round(rss_before / 1024, 1),
            "rss_after_mib": round(status_kib(proc.pid, "VmRSS") / 1024, 1),
            "peak_rss_mib": round(status_kib(proc.pid, "VmHWM") / 1024, 1),
            "correct_sign_in_after": correct,
        }
    finally:
        proc.terminate()
        proc.wait()
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'],
                       capture_output=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", default="target/debug/firebreak")
    p.add_argument("--bursts", default="150,500")
    a = p.parse_args()
    for n in [int(x) for x in a.bursts.split(",")]:
        print(json.dumps(run(a.binary, n)), flush=True)


if __name__ == "__main__":
    main()
