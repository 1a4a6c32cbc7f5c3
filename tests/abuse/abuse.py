#!/usr/bin/env python3
"""Replays every known attack (hostile traffic, rounds 1 and 2) against the release
binary, on SQLite and on PostgreSQL, and prints a table: finding -> held or
FAILED. Exits 1 if anything failed.

Python standard library only; loopback only (127.0.0.0/8); every loop is
bounded in count and time. Run by ./scripts/test:

    python3 tests/abuse/abuse.py --bin target/release/aswan --pg-admin-url postgres://...
"""

import argparse
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

PASSWORD = "correct horse"
SECRET = "abuse-run-secret-0123456789abcdef-0123456789"
RESULTS = []


def record(backend, finding, held, note=""):
    RESULTS.append((backend, finding, held, note))


# ---- a server -----------------------------------------------------------

class Server:
    """The release binary on a free port, its log in a file."""

    def __init__(self, binary, workdir, env, nofile=None, drop_secret=False):
        self.log_path = os.path.join(workdir, f"server-{time.monotonic_ns()}.log")
        self.log = open(self.log_path, "w")
        # Every client here is in 127.0.0.0/8, a few /24s: the per-network
        # cap is lifted but for its own finding (network_cap).
        full = {"PATH": os.environ["PATH"], "BIND": "127.0.0.1:0", "LOG_FORMAT": "text",
                "JWT_SECRET": SECRET, "EMBEDDING_PROVIDER": "none", "MAX_CONNECTIONS_PER_NETWORK": "100000", **env}
        if drop_secret:
            # The signing key generated in DATA_DIR, so DATA_DIR is used.
            full.pop("JWT_SECRET")

        def limit():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen([binary], cwd=workdir, env=full, stderr=self.log,
                                     stdout=subprocess.DEVNULL, preexec_fn=limit)
        deadline = time.time() + 30
        self.addr = None
        while time.time() < deadline and self.addr is None:
            time.sleep(0.1)
            with open(self.log_path) as f:
                m = re.search(r"address=(\S+)", f.read())
            if m:
                host, port = m.group(1).rsplit(":", 1)
                self.addr = (host, int(port))
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {open(self.log_path).read()}")
        if self.addr is None:
            raise RuntimeError("server did not start")
        self.base = f"http://{self.addr[0]}:{self.addr[1]}"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()

    def logs(self):
        with open(self.log_path) as f:
            return f.read()


def http(base, method, path, body=None, headers=None, token=None, timeout=10):
    """(status, headers, parsed JSON or None)."""
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None and "Content-Type" not in (headers or {}):
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            raw = res.read()
            return res.status, res.headers, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw
        return e.code, e.headers, parsed


def sign_up(base, email, **extra):
    status, _, body = http(base, "POST", "/api/sign-up", {"email": email, "password": PASSWORD, **extra})
    assert status == 200, (status, body)
    return body["access_token"]


def owner_of(base, email, name):
    """Signs `email` up and makes it a tenant: (its token, the tenant's id)."""
    token = sign_up(base, email)
    status, _, tenant = http(base, "POST", "/api/tenants", {"name": name}, token=token)
    assert status == 200, (status, tenant)
    return token, tenant["id"]


def connect_from(source, addr, timeout=5):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(timeout)
    s.connect(addr)
    return s


def closed_within(sockets, seconds):
    """How many of `sockets` the server has NOT closed after `seconds`."""
    deadline = time.time() + seconds
    open_left = 0
    for s in sockets:
        while True:
            left = deadline - time.time()
            if left <= 0:
                open_left += 1
                break
            s.settimeout(min(left, 0.5))
            try:
                if s.recv(4096) == b"":
                    break
            except socket.timeout:
                continue
            except OSError:
                break
    return open_left


# ---- the findings ---------------------------------------------------------

def idle_sockets(args, backend, env, workdir):
    """1. 1,100 idle + 200 slowloris sockets with the file limit at 1024."""
    server = Server(args.bin, workdir, {**env, "HEADER_READ_TIMEOUT": "2", "BODY_READ_TIMEOUT": "2"}, nofile=1024)
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        idle = [connect_from("127.0.0.1", server.addr) for _ in range(1100)]
        slow = []
        for _ in range(200):
            s = connect_from("127.0.0.3", server.addr)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
            slow.append(s)
        withheld = connect_from("127.0.0.4", server.addr)
        withheld.sendall(b"POST /api/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{")
        started = time.time()
        for _ in range(2):
            time.sleep(0.5)
            for s in slow:
                try:
                    s.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    pass
        t0 = time.time()
        normal = connect_from("127.0.0.2", server.addr)
        normal.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        answer = normal.recv(100)
        took = time.time() - t0
        record(backend, "1. another client answered during 1,300 hostile sockets (ulimit 1024)",
               answer.startswith(b"HTTP/1.1 200"), f"{took * 1000:.0f} ms")
        left = closed_within(idle, 8 - (time.time() - started))
        record(backend, "1. idle sockets closed within the header timeout (2 s)", left == 0, f"{left} left open")
        left = closed_within(slow, 8 - (time.time() - started))
        record(backend, "1. slowloris sockets closed within the header timeout", left == 0, f"{left} left open")
        withheld.settimeout(6)
        try:
            reply = withheld.recv(100)
        except OSError:
            reply = b""
        record(backend, "1. a request announcing Content-Length: 1000000 and no body ends",
               reply.startswith(b"HTTP/1.1 413") or reply.startswith(b"HTTP/1.1 408") or reply == b"", repr(reply[:12]))
        for s in idle + slow + [withheld, normal]:
            s.close()
        errors = server.logs().count("Too many open files")
        record(backend, "1. no 'Too many open files' in the log", errors == 0, f"{errors} lines")
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    finally:
        server.stop()


def data_dir(args, backend, env, workdir):
    """2. DATA_DIR holds the database; files private; secrets checked."""
    cwd = os.path.join(workdir, "cwd")
    data = os.path.join(workdir, "volume", "data")
    os.makedirs(cwd)
    env2 = {k: v for k, v in env.items() if k != "DATABASE_URL" or backend == "postgres"}
    env2 = {**env2, "DATA_DIR": data}
    env2.pop("JWT_SECRET", None)
    full = {"PATH": os.environ["PATH"], "BIND": "127.0.0.1:0", "EMBEDDING_PROVIDER": "none", **env2}
    proc = subprocess.Popen([args.bin], cwd=cwd, env=full, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.time() + 30
    for line in proc.stderr:
        if "address=" in line or time.time() > deadline:
            break
    proc.terminate()
    proc.wait(10)
    mode = lambda p: os.stat(p).st_mode & 0o777 if os.path.exists(p) else None
    if backend == "sqlite":
        record(backend, "2. the default database is inside DATA_DIR, not the working directory",
               os.path.exists(os.path.join(data, "aswan.db")) and not os.path.exists(os.path.join(cwd, "data")))
        record(backend, "2. aswan.db is 0600", mode(os.path.join(data, "aswan.db")) == 0o600,
               oct(mode(os.path.join(data, "aswan.db")) or 0))
    record(backend, "2. DATA_DIR is 0700 and jwt_secret 0600",
           mode(data) == 0o700 and mode(os.path.join(data, "jwt_secret")) == 0o600)
    out = subprocess.run([args.bin], cwd=cwd, env={**full, "JWT_SECRET": "x"}, capture_output=True, text=True, timeout=30)
    record(backend, "2. a 1-byte JWT_SECRET is refused (exit 2)", out.returncode == 2 and "JWT_SECRET" in out.stderr)
    os.chmod(os.path.join(data, "jwt_secret"), 0o644)
    out = subprocess.run([args.bin], cwd=cwd, env=full, capture_output=True, text=True, timeout=30)
    record(backend, "2. a group/other-readable secret file is refused (exit 2)",
           out.returncode == 2 and "jwt_secret" in out.stderr)


def throttling(args, backend, env, workdir):
    """3. Login, sign-up and tenant floods are throttled."""
    server = Server(args.bin, workdir, env)
    try:
        sign_up(server.base, "alice@example.com")
        statuses = [http(server.base, "POST", "/api/login", {"email": "alice@example.com", "password": "wrong"})[0]
                    for _ in range(40)]
        first_429 = statuses.index(429) + 1 if 429 in statuses else None
        record(backend, "3. repeated wrong passwords get 429", first_429 is not None and first_429 <= 10,
               f"first 429 at attempt {first_429}")
        status, headers, body = http(server.base, "POST", "/api/login", {"email": "alice@example.com", "password": PASSWORD})
        record(backend, "3. ... with Retry-After and {detail}, even for the right password from the guessing client",
               status == 429 and headers.get("Retry-After") and isinstance(body, dict) and "detail" in body)
        # The owner, from another address (127.0.0.2 is this host too).
        status, _ = post_from("127.0.0.2", server, "/api/login", {"email": "alice@example.com", "password": PASSWORD})
        record(backend, "3. the real user logs in from elsewhere meanwhile", status == 200, f"status {status}")
        status, body = post_from("127.0.0.5", server, "/api/sign-up", {"email": "tenants@example.com", "password": PASSWORD})
        token = body["access_token"]
        statuses = [http(server.base, "POST", "/api/tenants", {"name": f"t{i}"}, token=token)[0] for i in range(80)]
        record(backend, "3. tenant creation is throttled (5,000 in 3 s before)", 429 in statuses,
               f"{statuses.count(200)} created before 429")
        # 24 clients flood /api/login (from one address: throttled at once);
        # a legitimate login from elsewhere and a signed-in request meanwhile.
        stop = threading.Event()

        def flood():
            while not stop.is_set():
                http(server.base, "POST", "/api/login", {"email": "alice@example.com", "password": "nope"})

        threads = [threading.Thread(target=flood, daemon=True) for _ in range(24)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        t0 = time.time()
        status, _ = post_from("127.0.0.6", server, "/api/login", {"email": "tenants@example.com", "password": PASSWORD})
        login_ms = (time.time() - t0) * 1000
        t0 = time.time()
        me = http(server.base, "GET", "/api/me", token=token)[0]
        me_ms = (time.time() - t0) * 1000
        stop.set()
        for t in threads:
            t.join(30)
        record(backend, "3. during a 24-client login flood, a real login and a signed-in request answer",
               status == 200 and me == 200, f"login {login_ms:.0f} ms, /api/me {me_ms:.0f} ms (login was 681 ms)")
    finally:
        server.stop()


def post_from(source, server, path, payload):
    """POST JSON from another loopback address: (status, parsed body)."""
    s = connect_from(source, server.addr)
    body = json.dumps(payload).encode()
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    raw = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        raw += chunk
    s.close()
    head, _, rest = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        return status, json.loads(rest)
    except ValueError:
        return status, None


def csrf(args, backend, env, workdir):
    """4. Cross-origin form posts with the cookie; login CSRF; trailing bytes."""
    server = Server(args.bin, workdir, env)
    try:
        token = sign_up(server.base, "victim@example.com")
        status, _, tenant = http(server.base, "POST", "/api/tenants", {"name": "Victim"}, token=token)
        sign_up(server.base, "mallory@example.com")
        cookie = {"Cookie": f"access_token={token}"}
        form = b'{"email":"mallory@example.com","role":"owner","x":"="}'
        status, _, _ = http(server.base, "POST", f"/api/tenants/{tenant['id']}/members", form,
                            headers={**cookie, "Content-Type": "text/plain", "Origin": f"http://127.0.0.1:{server.addr[1] + 1}",
                                     "Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "navigate"})
        _, _, members = http(server.base, "GET", f"/api/tenants/{tenant['id']}/members", token=token)
        record(backend, "4. a same-site page on another port cannot add an owner", status == 403 and len(members) == 1,
               f"status {status}")
        status, _, _ = http(server.base, "POST", "/api/login", b'{"email":"mallory@example.com","password":"correct horse","x":"="}',
                            headers={"Content-Type": "text/plain", "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
        record(backend, "4. a cross-site login form is refused (login CSRF)", status == 403, f"status {status}")
        status, _, _ = http(server.base, "POST", "/api/logout", None,
                            headers={**cookie, "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
        me = http(server.base, "GET", "/api/me", token=token)[0]
        record(backend, "4. a cross-site logout is refused", status == 403 and me == 200, f"status {status}")
        status, _, _ = http(server.base, "POST", f"/api/tenants/{tenant['id']}/todos", b'{"title":"t"} xyz', token=token)
        record(backend, "4. trailing bytes after the JSON are a 422", status == 422, f"status {status}")
    finally:
        server.stop()


def pagination(args, backend, env, workdir):
    """5. A 10,000-todo tenant answers a small first page."""
    server = Server(args.bin, workdir, env)
    try:
        token, tenant_id = owner_of(server.base, "big@example.com", "Big")
        path = f"/api/tenants/{tenant_id}/todos"
        t0 = time.time()
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda i: http(server.base, "POST", path, {"title": f"todo {i}"}, token=token)[0],
                                  range(10_000)))
        setup = time.time() - t0
        t0 = time.time()
        req = urllib.request.Request(server.base + path, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=30) as res:
            raw = res.read()
            link = res.headers.get("Link", "")
        took = time.time() - t0
        record(backend, "5. a 10,000-todo tenant's first page is small, with a next link",
               codes.count(200) == 10_000 and len(json.loads(raw)) == 200 and 'rel="next"' in link,
               f"{len(raw) / 1024:.0f} KB in {took * 1000:.0f} ms (10,000 creates in {setup:.0f} s)")
        # Another user, while 16 clients list the big tenant without pause.
        other = sign_up(server.base, "other@example.com")
        stop = threading.Event()

        def lister():
            while not stop.is_set():
                http(server.base, "GET", path, token=token, timeout=30)

        threads = [threading.Thread(target=lister, daemon=True) for _ in range(16)]
        for t in threads:
            t.start()
        latencies, statuses = [], []
        for _ in range(40):
            t0 = time.time()
            statuses.append(http(server.base, "GET", "/api/me", token=other, timeout=30)[0])
            latencies.append(time.time() - t0)
        stop.set()
        for t in threads:
            t.join(30)
        latencies.sort()
        record(backend, "5. another user's /api/me answers while 16 clients list that tenant",
               statuses.count(200) == len(statuses),
               f"p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms (was 1.9 s)")
    finally:
        server.stop()


def aswan_sql(args, backend, env, workdir):
    """6. aswan sql: one statement, its scope kept."""
    server = Server(args.bin, workdir, env)
    try:
        token = sign_up(server.base, "sql@example.com")
        _, _, tenant = http(server.base, "POST", "/api/tenants", {"name": "A"}, token=token)
        http(server.base, "POST", f"/api/tenants/{tenant['id']}/todos", {"title": "keep me"}, token=token)
    finally:
        server.stop()
    run = lambda *a: subprocess.run([args.bin, "sql", *a], cwd=workdir, capture_output=True, text=True, timeout=30,
                                    env={"PATH": os.environ["PATH"], "JWT_SECRET": SECRET, **env})
    out = run("--tenant", tenant["id"], "PRAGMA query_only = OFF; DELETE FROM main.todos")
    left = run("--json", "--tenant", tenant["id"], "SELECT title FROM todos")
    record(backend, "6. two statements in one call are refused; nothing deleted",
           out.returncode != 0 and "keep me" in left.stdout)
    if backend == "postgres":
        out = run("--tenant", tenant["id"], "SELECT set_config('nile.tenant_id', 'x', true)")
        record(backend, "6. set_config (leaving the tenant's context) is refused", out.returncode != 0)
        out = run("RESET ROLE")
        record(backend, "6. RESET ROLE is refused", out.returncode != 0)
    else:
        target = os.path.join(workdir, "attached.db")
        out = run("--tenant", tenant["id"], f"ATTACH '{target}' AS x")
        record(backend, "6. ATTACH creates no file", out.returncode != 0 and not os.path.exists(target))


def low_findings(args, backend, env, workdir):
    """7. The low findings."""
    server = Server(args.bin, workdir, env)
    try:
        status, _, _ = http(server.base, "POST", "/api/sign-up",
                            {"email": "nul@example.com", "password": PASSWORD, "name": "a\u0000b"})
        record(backend, "7. a display name with NUL is a 422", status == 422, f"status {status}")
        status, _, _ = http(server.base, "POST", "/api/sign-up",
                            {"email": "esc@example.com", "password": PASSWORD, "name": "\u001b[31mred\nline"})
        record(backend, "7. names with newlines or escapes are a 422", status == 422, f"status {status}")
        forged = "abc uri=/api/admin user=root"
        _, headers, _ = http(server.base, "GET", "/healthz", headers={"X-Request-Id": forged})
        record(backend, "7. a forged X-Request-Id is replaced", headers.get("x-request-id") != forged)
        token = sign_up(server.base, "gone@example.com")
        _, headers, me = http(server.base, "GET", "/api/me", token=token)
        record(backend, "7. API answers: Cache-Control no-store, nosniff",
               headers.get("Cache-Control") == "no-store" and headers.get("X-Content-Type-Options") == "nosniff")
        for _ in range(20):
            http(server.base, "GET", "/healthz")
        # The UI's page for a mailed link (HTML, not JSON).
        page = connect_from("127.0.0.1", server.addr)
        page.sendall(b"GET /reset-password/s3cr3t-from-a-mail HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        while page.recv(65536):
            pass
        page.close()
        time.sleep(0.3)
        logs = server.logs()
        record(backend, "7. request logs carry the client IP and the user id",
               "client_ip=127.0.0.1" in logs and f"user_id={me['id']}" in logs)
        record(backend, "round 2: probes are not logged at INFO; link secrets never reach the log",
               "uri=/healthz" not in logs and "s3cr3t-from-a-mail" not in logs and "uri=/reset-password/[secret]" in logs)
    finally:
        server.stop()
    # A deleted user's token: 401, not 500.
    if backend == "sqlite":
        import sqlite3
        path = env.get("DATABASE_URL", "").replace("sqlite://", "")
        db = sqlite3.connect(path)
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("DELETE FROM users WHERE email = 'gone@example.com'")
        db.commit()
        db.close()
    else:
        subprocess.run([args.bin, "sql", "DELETE FROM users WHERE email = 'gone@example.com'"], cwd=workdir,
                       capture_output=True, timeout=30, env={"PATH": os.environ["PATH"], **env}, check=True)
    server = Server(args.bin, workdir, env)
    try:
        status, _, _ = http(server.base, "POST", "/api/tenants", {"name": "x"}, token=token)
        record(backend, "7. a deleted user's token gets 401 on writes", status == 401, f"status {status}")
    finally:
        server.stop()
    # --help never shows the password in DATABASE_URL.
    out = subprocess.run([args.bin, "--help"], capture_output=True, text=True, timeout=30, cwd=workdir,
                         env={"PATH": os.environ["PATH"], "DATABASE_URL": "postgres://u:Sup3rS3cret@h/db"})
    record(backend, "7. --help does not print the password in DATABASE_URL", "Sup3rS3cret" not in out.stdout)
    if backend == "sqlite":
        bad = os.path.join(workdir, "corrupt.db")
        with open(bad, "w") as f:
            f.write("not a database " * 100)
        out = subprocess.run([args.bin, "migrate"], capture_output=True, text=True, timeout=30, cwd=workdir,
                             env={"PATH": os.environ["PATH"], "DATABASE_URL": f"sqlite://{bad}"})
        record(backend, "7. a corrupt database file: one error naming the file",
               out.returncode != 0 and out.stderr.count("not a database") == 1 and bad in out.stderr)
    else:
        database_down(args, env, workdir)


def slow_readers(args, backend, env, workdir):
    """Round 2: clients that stop reading. 256 connections from 8 addresses fill
    every slot, each pipelining a large answer 30 times with a 2 KB receive
    buffer and never reading; new clients are served again once the stalled
    writes run out of time."""
    server = Server(args.bin, workdir, {**env, "MAX_CONNECTIONS": "256", "MAX_CONNECTIONS_PER_CLIENT": "256",
                                        "HEADER_READ_TIMEOUT": "2", "RESPONSE_WRITE_TIMEOUT": "2"})
    stalled = []
    try:
        request = b"GET /docs/swagger-ui-bundle.js HTTP/1.1\r\nHost: localhost\r\n\r\n" * 30
        for i in range(256):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            s.bind((f"127.0.0.{10 + i % 8}", 0))
            s.settimeout(5)
            try:
                s.connect(server.addr)
                s.sendall(request)
            except OSError:
                pass
            stalled.append(s)
        started = time.time()

        def served():
            ok = 0
            for _ in range(5):
                try:
                    c = connect_from("127.0.0.2", server.addr, timeout=2)
                    c.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                    ok += c.recv(16).startswith(b"HTTP/1.1 200")
                    c.close()
                except OSError:
                    pass
            return ok

        time.sleep(max(0.0, 6 - (time.time() - started)))
        later = served()
        record(backend, "round 2: slow readers: new clients served 6 s after 256 stalled readers took every slot",
               later >= 4, f"{later}/5 served")
    finally:
        for s in stalled:
            s.close()
        server.stop()


def network_cap(args, backend, env, workdir):
    """Round 2: the connection budget falls to a few addresses. 600 idle
    sockets from 10 addresses of one /24 hold at most MAX_CONNECTIONS_PER_NETWORK
    slots; a client from another network is served."""
    server = Server(args.bin, workdir, {**env, "MAX_CONNECTIONS": "512", "MAX_CONNECTIONS_PER_CLIENT": "128",
                                        "MAX_CONNECTIONS_PER_NETWORK": "256", "HEADER_READ_TIMEOUT": "30"})
    idle = []
    try:
        for i in range(600):
            try:
                idle.append(connect_from(f"127.0.5.{1 + i % 10}", server.addr, timeout=2))
            except OSError:
                pass
        # Refused sockets are closed at once: a moment later each one has its
        # EOF (or reset), or is held.
        time.sleep(1)
        held = 0
        for s in idle:
            s.settimeout(0.02)
            try:
                held += s.recv(1) != b""
            except socket.timeout:
                held += 1
            except OSError:
                pass
        ok = 0
        for _ in range(5):
            try:
                c = connect_from("127.0.9.1", server.addr, timeout=2)
                c.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                ok += c.recv(16).startswith(b"HTTP/1.1 200")
                c.close()
            except OSError:
                pass
        record(backend, "round 2: one /24 holds at most MAX_CONNECTIONS_PER_NETWORK; another network is served",
               held <= 256 and ok == 5, f"{held} of 600 held open; {ok}/5 served from another network")
    finally:
        for s in idle:
            s.close()
        server.stop()


def cli_reset_link(args, env, workdir, email):
    out = subprocess.run([args.bin, "user", "reset-password", email], cwd=workdir, capture_output=True, text=True,
                         env={"PATH": os.environ["PATH"], "PUBLIC_URL": "https://t.example", "JWT_SECRET": SECRET,
                              "EMBEDDING_PROVIDER": "none", **env})
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().rsplit("/", 1)[1]


def token_lifecycle(args, backend, env, workdir):
    """Round 2: credentials that outlive a reset. A squatter's API token dies
    when the address's real owner resets the password; tokens cannot make
    tokens; a password change ends tokens; a reset link dies with the
    password it was made for."""
    server = Server(args.bin, workdir, env)
    try:
        owner = sign_up(server.base, "owner@corp.example")
        _, _, corp = http(server.base, "POST", "/api/tenants", {"name": "Corp"}, token=owner)
        squatter = sign_up(server.base, "colleague@corp.example")
        status, _, made = http(server.base, "POST", "/api/me/tokens", {"name": "mine"}, token=squatter)
        pat = made["token"]
        secret = cli_reset_link(args, env, workdir, "colleague@corp.example")
        status, _, _ = http(server.base, "POST", "/api/password-reset/confirm",
                            {"token": secret, "password": "her own phrase"})
        status, _, _ = http(server.base, "GET", f"/api/tenants/{corp['id']}/todos", token=pat)
        held = status == 401
        status, _, _ = http(server.base, "GET", "/api/me", token=pat)
        record(backend, "round 2: a squatter's API token dies with the real owner's reset",
               held and status == 401, f"status {status}")
        user = sign_up(server.base, "script@example.com")
        _, _, made = http(server.base, "POST", "/api/me/tokens", {"name": "parent"}, token=user)
        status, _, _ = http(server.base, "POST", "/api/me/tokens", {"name": "child"}, token=made["token"])
        record(backend, "round 2: an API token cannot make API tokens", status == 403, f"status {status}")
        stale = cli_reset_link(args, env, workdir, "script@example.com")
        http(server.base, "POST", "/api/me/password",
             {"current_password": PASSWORD, "new_password": "a brand new phrase"}, token=user)
        status_token, _, _ = http(server.base, "GET", "/api/me", token=made["token"])
        status_link, _, _ = http(server.base, "POST", "/api/password-reset/confirm",
                                 {"token": stale, "password": "someone else's"})
        record(backend, "round 2: a password change ends API tokens and earlier reset links",
               status_token == 401 and status_link == 404, f"token {status_token}, link {status_link}")
    finally:
        server.stop()


def post_raw(source, addr, path, body, cookie=None):
    """POST JSON from a chosen loopback address; (status, Set-Cookie values)."""
    payload = json.dumps(body).encode()
    extra = f"Cookie: {cookie}\r\n" if cookie else ""
    s = connect_from(source, addr)
    s.sendall((f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{extra}"
               f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n").encode() + payload)
    raw = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        raw += chunk
    s.close()
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    cookies = [line.split(":", 1)[1].strip().split(";", 1)[0] for line in head[1:]
               if line.lower().startswith("set-cookie:")]
    return int(head[0].split()[1]), cookies


def lockout(args, backend, env, workdir):
    """Round 2: targeted lockout. 40 addresses each guessing a password three
    times keep neither the real user's known browser out nor her current
    password checks; at most 100 guesses an hour reach the password check."""
    server = Server(args.bin, workdir, {**env, "AUTH_RATE_PER_MINUTE": "100000"})
    try:
        login = {"email": "victim@example.com", "password": PASSWORD}
        status, cookies = post_raw("127.0.0.2", server.addr, "/api/sign-up", login)
        device = "; ".join(c for c in cookies if c.startswith("aswan_device="))
        checked = 0
        for i in range(120):
            status, _ = post_raw(f"127.0.1.{i % 40 + 1}", server.addr, "/api/login",
                                 {"email": "victim@example.com", "password": "wrong horse"})
            checked += status == 401
        ok = sum(post_raw("127.0.0.2", server.addr, "/api/login", login, cookie=device)[0] == 200 for _ in range(5))
        record(backend, "round 2: lockout: 40 guessing addresses do not keep the real user's browser out",
               ok == 5 and checked <= 100 and bool(device), f"{ok}/5 of her logins served; {checked} of 120 guesses checked")
    finally:
        server.stop()


def delayed_proxy(url, delay):
    """A TCP forwarder to the database in `url` that holds every chunk for
    `delay` seconds: each round trip becomes a wide window for a hang-up to
    cancel a request in. Returns the URL through it and a stop function."""
    m = re.match(r"(postgres(?:ql)?://[^@]*@)([^:/]+):(\d+)(/.*)", url)
    host, port = m.group(2), int(m.group(3))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    stop = threading.Event()

    def pipe(a, b):
        try:
            while not stop.is_set():
                data = a.recv(65536)
                if not data:
                    break
                time.sleep(delay)
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def accept():
        while not stop.is_set():
            try:
                c, _ = listener.accept()
            except OSError:
                return
            u = socket.create_connection((host, port))
            for s in (c, u):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=pipe, args=(c, u), daemon=True).start()
            threading.Thread(target=pipe, args=(u, c), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()

    def close():
        stop.set()
        listener.close()

    return f"{m.group(1)}127.0.0.1:{listener.getsockname()[1]}{m.group(4)}", close


def idle_in_transaction(args, url):
    psql = os.path.join(os.environ["ASWAN_PG_BIN"], "psql") if os.environ.get("ASWAN_PG_BIN") else shutil.which("psql")
    name = url.rsplit("/", 1)[1]
    out = subprocess.run([psql, args.pg_admin_url, "-qAtc",
                          "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' "
                          "AND state LIKE 'idle in transaction%%'" % name],
                         check=True, capture_output=True, text=True)
    return int(out.stdout.strip())


def hang_up(addr, token, method, path, body, wait):
    """Sends one request on a fresh connection, waits, hangs up unread."""
    payload = json.dumps(body).encode()
    head = (f"{method} {path} HTTP/1.1\r\nHost: {addr[0]}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n").encode()
    try:
        s = socket.create_connection(addr, timeout=5)
        s.sendall(head + payload)
        time.sleep(wait)
        s.close()
    except OSError:
        pass


def disconnect_storm(args, backend, env, workdir):
    """A write's client hangs up at any moment. Clients that hang up at random
    moments mixed with clients that wait: no acknowledged write lost after a
    restart, no connection left inside a transaction, no warning of one."""
    import random
    stop_proxy = None
    if backend == "postgres":
        # The server reaches the database through 1 ms each way.
        proxied, stop_proxy = delayed_proxy(env["DATABASE_URL"], 0.001)
        env = {**env, "DATABASE_URL": proxied, "DB_MAX_CONNECTIONS": "4"}
    server = Server(args.bin, workdir, env)
    acknowledged, lost, stuck = [], [], 0
    try:
        token = sign_up(server.base, "storm@example.com")
        status, _, tenant = http(server.base, "POST", "/api/tenants", {"name": "Storm"}, token=token)
        tid = tenant["id"]
        targets = [http(server.base, "POST", f"/api/tenants/{tid}/todos", {"title": f"target {i}"}, token=token)[2]["id"]
                   for i in range(8)]
        rng = random.Random(7)
        plans = []
        for i in range(1600):
            target = targets[i % 8]
            plans.append([
                ("POST", f"/api/tenants/{tid}/todos", {"title": f"gone {i}"}),
                ("POST", "/api/me/tokens", {"name": f"gone {i}"}),
                ("POST", f"/api/tenants/{tid}/todos/{target}/timer", {}),
                ("PATCH", f"/api/tenants/{tid}/todos/{target}", {"title": f"renamed {i}"}),
            ][i % 4] + (rng.uniform(0, 0.04),))
        deadline = time.time() + 90

        def keep_writing():
            for i in range(150):
                if time.time() > deadline:
                    return
                status, _, body = http(server.base, "POST", "/api/me/tokens", {"name": f"kept {i}"}, token=token)
                if status == 201:
                    acknowledged.append(body["id"])

        kept = threading.Thread(target=keep_writing)
        kept.start()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda p: time.time() < deadline and hang_up(server.addr, token, *p), plans))
        kept.join()
        # A last series of acknowledged autocommit writes: a connection left
        # inside a transaction would answer them 201 and never commit them.
        keep_writing()
        time.sleep(2)
        if backend == "postgres":
            stuck = idle_in_transaction(args, env["DATABASE_URL"])
        server.stop()
        warnings = len(re.findall(r"transaction in progress", server.logs()))
        server = Server(args.bin, workdir, env)
        status, _, tokens = http(server.base, "GET", "/api/me/tokens", token=token)
        stored = {t["id"] for t in tokens}
        lost = [i for i in acknowledged if i not in stored]
        record(backend, "hang-ups: no acknowledged write lost, no connection left in a transaction",
               not lost and stuck == 0 and warnings == 0 and len(acknowledged) > 250,
               f"{len(lost)} of {len(acknowledged)} acknowledged tokens lost, {stuck} connections in a transaction, "
               f"{warnings} transaction warnings")
    finally:
        server.stop()
        if stop_proxy:
            stop_proxy()


def database_down(args, env, workdir):
    """The database goes away: 503 with Retry-After, within the acquire timeout."""
    url = env["DATABASE_URL"]
    m = re.match(r"(postgres(?:ql)?://[^@]*@)([^:/]+):(\d+)(/.*)", url)
    host, port = m.group(2), int(m.group(3))
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    conns, stop = [], threading.Event()

    def pipe(a, b):
        try:
            while not stop.is_set():
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass

    def accept():
        while not stop.is_set():
            try:
                c, _ = listener.accept()
            except OSError:
                return
            u = socket.create_connection((host, port))
            conns.extend([c, u])
            threading.Thread(target=pipe, args=(c, u), daemon=True).start()
            threading.Thread(target=pipe, args=(u, c), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    proxied = f"{m.group(1)}127.0.0.1:{listener.getsockname()[1]}{m.group(4)}"
    server = Server(args.bin, workdir, {**env, "DATABASE_URL": proxied, "DB_ACQUIRE_TIMEOUT": "2"})
    try:
        token = sign_up(server.base, "down@example.com")
        stop.set()
        listener.close()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        t0 = time.time()
        status, headers, body = http(server.base, "GET", "/api/tenants", token=token, timeout=20)
        took = time.time() - t0
        record("postgres", "7. database down: 503 {detail} with Retry-After, not a 10 s hang and 500",
               status == 503 and headers.get("Retry-After") and took < 8, f"{status} in {took:.1f} s")
    finally:
        server.stop()

def mail_relay(args, backend, env, workdir):
    """Round 2, 5 and 7: invitations are no mail relay (per inviter and tenant
    by the hour), "add member" no address sweep (the same budget), names carry
    no direction controls."""
    server = Server(args.bin, workdir, env)
    try:
        token, tenant_id = owner_of(server.base, "relay@example.com", "Relay")
        statuses = [http(server.base, "POST", f"/api/tenants/{tenant_id}/invitations",
                         {"email": f"victim{i}@example.com"}, token=token)[0] for i in range(30)]
        record(backend, "round 2: 30 invitations in a row: the hourly budget (20) answers 429 after it",
               statuses.count(201) == 20 and statuses[20:] == [429] * 10, f"{statuses.count(201)} sent")
        other, t2 = owner_of(server.base, "sweeper@example.com", "Sweep")
        probes = [http(server.base, "POST", f"/api/tenants/{t2}/members",
                       {"email": f"who{i}@example.com"}, token=other)[0] for i in range(300)]
        record(backend, "round 2: 300 add-member probes: at most 20 answered, then 429",
               probes.count(404) <= 20 and probes.count(429) >= 280, f"{probes.count(404)} answered")
        status = http(server.base, "POST", "/api/tenants", {"name": "Acme\u202egnp.exe"}, token=token)[0]
        record(backend, "round 2: U+202E in a tenant name is a 422", status == 422, f"status {status}")
    finally:
        server.stop()


def round2_lows(args, backend, env, workdir):
    """Round 2, 7: the low findings."""
    server = Server(args.bin, workdir, env)
    try:
        token, tenant_id = owner_of(server.base, "lows@example.com", "Lows")
        status = http(server.base, "POST", f"/api/tenants/{tenant_id}/invitations",
                      {"email": "x@example.com"}, headers={"Host": "evil.example"}, token=token)[0]
        record(backend, "round 2: Host: evil.example is a 400 (no link on a forged host)", status == 400,
               f"status {status}")
        status = http(server.base, "POST", "/api/sign-up", {"email": "weak@example.com", "password": "password123"})[0]
        record(backend, "round 2: password123 is refused (20,000-entry list)", status == 422, f"status {status}")
        # Imports: one per user at a time (a held body keeps its slot), the
        # API's bounds on server-written fields.
        held = connect_from("127.0.0.1", server.addr)
        held.sendall((f"POST /api/tenants/import HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n"
                      "Content-Length: 100000\r\n\r\n{").encode())
        time.sleep(0.5)
        export = "\n".join([
            json.dumps({"aswan_export": 1, "tenant": {"name": "Imported"}}),
            json.dumps({"todo": {"id": "0190c1e5-0000-7000-8000-000000000001", "title": "t", "complete": False,
                                 "estimate": "x" * 1_000_000, "estimate_status": "ready", "estimate_minutes": 5,
                                 "estimate_basis": [], "estimate_reason": None, "actual_minutes": None,
                                 "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}}),
        ]).encode()
        second = http(server.base, "POST", "/api/tenants/import", export, token=token,
                      headers={"Content-Type": "application/x-ndjson"})[0]
        held.close()
        other = sign_up(server.base, "importer@example.com")
        bad = http(server.base, "POST", "/api/tenants/import", export, token=other,
                   headers={"Content-Type": "application/x-ndjson"})[0]
        record(backend, "round 2: a second import of one user's while the first runs: 429; a 1 MB estimate: 422",
               second == 429 and bad == 422, f"{second}, {bad}")
        if backend == "sqlite":
            needle = "erase-me-7731@example.com"
            gone = sign_up(server.base, needle)
            status = http(server.base, "DELETE", "/api/me", {"password": PASSWORD}, token=gone)[0]
    finally:
        server.stop()
    if backend == "sqlite":
        leftovers = []
        for name in os.listdir(workdir):
            path = os.path.join(workdir, name)
            if os.path.isfile(path) and not name.endswith(".log"):
                with open(path, "rb") as f:
                    if needle.encode() in f.read():
                        leftovers.append(name)
        record(backend, "round 2: a deleted account's email is gone from the SQLite files",
               status == 204 and not leftovers, f"{status}, in {leftovers}")
        ro = subprocess.run([args.bin], cwd=workdir, capture_output=True, text=True, timeout=30,
                            env={"PATH": os.environ["PATH"], "BIND": "127.0.0.1:0", "JWT_SECRET": SECRET,
                                 **env, "DATABASE_URL": env["DATABASE_URL"] + "?mode=ro"})
        record(backend, "round 2: a read-only database file is refused at start, naming it",
               ro.returncode != 0 and "can only be read" in ro.stderr)
    opened = os.path.join(workdir, "open-data")
    os.makedirs(opened)
    os.chmod(opened, 0o777)
    server = Server(args.bin, workdir, {**env, "DATA_DIR": opened}, drop_secret=True)
    try:
        mode = os.stat(opened).st_mode & 0o777
        record(backend, "round 2: an existing DATA_DIR of mode 777 is closed to 700", mode == 0o700, oct(mode))
    finally:
        server.stop()
    out = subprocess.run([args.bin, "sql", "--help"], capture_output=True, text=True, timeout=30, cwd=workdir,
                         env={"PATH": os.environ["PATH"]})
    record(backend, "round 2: `aswan sql --help` says --tenant is a filter, not a boundary",
           "not a security boundary" in out.stdout)


FINDINGS = [idle_sockets, data_dir, throttling, csrf, pagination, aswan_sql, low_findings, disconnect_storm,
            slow_readers, token_lifecycle, lockout, network_cap, mail_relay, round2_lows]


def create_pg_database(args, name):
    psql = os.path.join(os.environ["ASWAN_PG_BIN"], "psql") if os.environ.get("ASWAN_PG_BIN") else shutil.which("psql")
    subprocess.run([psql, args.pg_admin_url, "-qAtc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    base, _ = args.pg_admin_url.rsplit("/", 1)
    return f"{base}/{name}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True)
    parser.add_argument("--pg-admin-url", required=True)
    parser.add_argument("--only", action="append", default=[], metavar="FINDING",
                        help="run only this finding (its function's name); may repeat")
    args = parser.parse_args()
    args.bin = os.path.abspath(args.bin)
    started = time.time()
    for backend in ["sqlite", "postgres"]:
        for i, finding in enumerate(FINDINGS):
            if args.only and finding.__name__ not in args.only:
                continue
            workdir = tempfile.mkdtemp(prefix=f"abuse-{backend}-")
            if backend == "sqlite":
                env = {"DATABASE_URL": f"sqlite://{workdir}/aswan.db", "DATA_DIR": workdir}
            else:
                env = {"DATABASE_URL": create_pg_database(args, f"abuse_{os.getpid()}_{i}"), "DATA_DIR": workdir}
            try:
                finding(args, backend, env, workdir)
            except Exception as e:  # noqa: BLE001 - a crash is a failed finding, reported in the table
                record(backend, f"{finding.__doc__.split('.')[0]}. {finding.__name__}", False, f"crashed: {e!r}"[:160])
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
    width = max(len(f) for _, f, _, _ in RESULTS)
    print(f"\n{'backend':<9} {'finding':<{width}}  result  note")
    for backend, finding, held, note in RESULTS:
        print(f"{backend:<9} {finding:<{width}}  {'held  ' if held else 'FAILED'}  {note}")
    failed = sum(1 for r in RESULTS if not r[2])
    print(f"\n{len(RESULTS)} findings replayed in {time.time() - started:.0f} s")
    print(f"abuse: {len(RESULTS) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
