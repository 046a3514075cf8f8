#!/usr/bin/env python3
"""How tall the incident room is on a laptop (1280x800) and a phone (390x844).

Starts a firebreak binary on its own database, declares an incident with a
realistic amount in it (20 notes, 3 tasks, a change request, an update), and
measures the room's page height in headless Chromium through chromedriver.
Standard library only. Rerun any time:

    cargo build && ./bench/room_height.py                 # this tree's debug binary
    BIN=/path/to/older/firebreak ./bench/room_height.py   # the same for another build
"""
import base64
import http.cookiejar
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

BIN = os.environ.get("BIN", "target/debug/firebreak")
SERVER = os.environ.get("BENCH_DATABASE_SERVER", "postgres://postgres@127.0.0.1:5432")
DB = "firebreak_bench_room_height"
EMAIL, PASSWORD = "lead@bench.example", "benchmark-password"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    work = tempfile.mkdtemp()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    url = f"{SERVER}/{DB}"
    subprocess.run(["psql", "-q", f"{SERVER}/postgres", "-c", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"], check=True)
    env = dict(os.environ, DATABASE_URL=url)
    subprocess.run([BIN, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([BIN, "user", "add", "--email", EMAIL, "--name", "Bench Lead", "--role", "responder"],
                   env=dict(env, FIREBREAK_PASSWORD=PASSWORD), check=True, stdout=subprocess.DEVNULL)
    server = subprocess.Popen([BIN, "serve"], env=dict(env, BIND=f"127.0.0.1:{port}", RUST_LOG="warn",
                              SESSION_KEY=base64.b64encode(os.urandom(64)).decode(), MAIL_DIR=os.path.join(work, "mail")),
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "server.log"), "w"))
    driver = None
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/health")
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("the server did not start:\n" + open(os.path.join(work, "server.log")).read())
        jar = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)

        def get(path):
            return opener.open(base + path).read().decode()

        def post(page, path, fields):
            token = re.search(r'name="csrf_token" value="([^"]*)"', get(page)).group(1)
            data = urllib.parse.urlencode([("csrf_token", token)] + fields).encode()
            try:
                return opener.open(base + path, data)
            except urllib.error.HTTPError as e:
                return e

        post("/login", "/login", [("email", EMAIL), ("password", PASSWORD)])
        room = post("/incidents/new", "/incidents", [("title", "Checkout errors for EU customers"),
                                                     ("severity", "2")]).headers["Location"]
        for i in range(20):
            post(room, room + "/notes", [("body", f"Note {i}: checked **replica lag** on db-{i % 7}")])
        for t in ["Roll back deploy 4242", "Scale the checkout pool", "Page the payments team"]:
            post(room, room + "/tasks", [("title", t), ("timebox_minutes", "15")])
        post(room, room + "/changes", [("description", "Fail over to eu-west-2"), ("rollback_plan", "Fail back")])
        iid = room.rsplit("/", 1)[1]
        post(f"/incidents/{iid}/updates/new", f"/incidents/{iid}/updates",
             [("status", "investigating"), ("impact_started_at", "2026-01-01T09:00"),
              ("impact", "Checkout fails for some customers."), ("actions", "We are failing over."),
              ("next_update", "30"), ("audience", "internal"), ("action", "send")])

        dport = free_port()
        home = os.path.join(work, "home")
        os.makedirs(home)
        driver = subprocess.Popen(["chromedriver", f"--port={dport}"], env=dict(os.environ, HOME=home),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wd = f"http://127.0.0.1:{dport}"

        def call(method, path, body=None):
            for _ in range(100):
                try:
                    req = urllib.request.Request(wd + path, method=method,
                                                 data=None if body is None else json.dumps(body).encode(),
                                                 headers={"Content-Type": "application/json"})
                    return json.loads(urllib.request.urlopen(req).read())["value"]
                except urllib.error.URLError as e:
                    if isinstance(e, urllib.error.HTTPError):
                        raise
                    time.sleep(0.1)
            raise SystemExit("chromedriver did not answer")

        binary = next((p for p in ["/usr/lib/chromium/chromium", "/usr/bin/chromium"] if os.path.exists(p)), None)
        options = {"args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                            "--no-first-run", "--force-prefers-reduced-motion",
                            f"--user-data-dir={os.path.join(work, 'profile')}"]}
        if binary:
            options["binary"] = binary
        session = call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options}}})["sessionId"]
        s = f"/session/{session}"
        call("POST", s + "/url", {"url": base + "/login"})
        call("POST", s + "/execute/sync", {"script": f"""
            document.getElementById('email').value = {json.dumps(EMAIL)};
            document.getElementById('password').value = {json.dumps(PASSWORD)};
            document.querySelector('form[action="/login"]').submit();""", "args": []})
        time.sleep(1)
        for name, w, h, mobile in [("laptop", 1280, 800, False), ("phone", 390, 844, True)]:
            call("POST", s + "/goog/cdp/execute", {"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                "width": w, "height": h, "deviceScaleFactor": 1, "mobile": mobile}})
            call("POST", s + "/url", {"url": base + room})
            height = call("POST", s + "/execute/sync",
                          {"script": "return document.documentElement.scrollHeight;", "args": []})
            print(f"room page height on a {name} ({w}x{h}): {height} px")
        call("DELETE", s)
    finally:
        server.terminate()
        if driver:
            driver.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
