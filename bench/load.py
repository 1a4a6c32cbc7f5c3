#!/usr/bin/env python3
"""Load benchmark: the release server on SQLite and on PostgreSQL, side by side
with its ceilings, measured in the same run.

  python3 bench/load.py [--duration 10] [--concurrency 1,16,64] [--out bench/results/load.md]

For each backend it starts `target/release/aswan` (build it first:
`cargo build --release`) with a fake OpenAI-compatible vendor that answers at
once, seeds 10 tenants x 50 todos, and drives it with wrk:
  - GET /healthz            the framework's overhead: no database
  - GET /api/todos          a list of 50 todos in tenant context
  - POST /api/todos         a create, estimate included (fake vendor)
  - POST /api/login         argon2id-bound by design
recording throughput, p50/p99 latency, server CPU time per request and peak
RSS. On PostgreSQL, pgbench runs the very transaction the server runs for a
list (BEGIN; set_config; SELECT; COMMIT) as the app role at the same
concurrency: server / pgbench is the headline ratio.
"""

import argparse
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "aswan")
TENANTS, TODOS = 10, 50


# ---- a fake vendor that answers at once --------------------------------------

class FakeAi(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: without this, Nagle's
    # algorithm and delayed ACKs add ~40 ms to every vendor call.
    disable_nagle_algorithm = True

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path.endswith("/embeddings"):
            data = []
            for i, text in enumerate(body["input"]):
                v = [0.0] * 384
                for w in text.lower().split():
                    v[hash(w) % 384] += 1.0
                n = sum(x * x for x in v) ** 0.5 or 1.0
                data.append({"index": i, "embedding": [x / n for x in v]})
            out = {"data": data}
        else:
            out = {"choices": [{"message": {"content": '{"minutes": 30, "text": "About 30 minutes."}'}}]}
        raw = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args):
        pass


def start_fake_ai():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeAi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


# ---- the server -------------------------------------------------------------

def start_server(database_url, ai_url, workdir):
    env = {
        "PATH": os.environ["PATH"], "BIND": "127.0.0.1:0", "DATABASE_URL": database_url,
        "LOG_LEVEL": "warn,aswan=info", "AI_BASE_URL": ai_url, "EMBEDDING_DIMENSIONS": "384",
        "DB_MAX_CONNECTIONS": "32", "JWT_SECRET": "bench-secret-0123456789abcdef-0123456789",
        # The load comes from one address: lift the per-client limits.
        "AUTH_RATE_PER_MINUTE": "100000", "TENANT_RATE_PER_HOUR": "100000",
    }
    proc = subprocess.Popen([BIN], cwd=workdir, env=env, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        m = re.search(r"address=(\S+)", line)
        if m:
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, f"http://{m.group(1)}"
    raise SystemExit("aswan did not start")


def call(base, method, path, body=None, token=None, tenant=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if tenant:
        req.add_header("X-Tenant-Id", tenant)
    with urllib.request.urlopen(req) as res:
        raw = res.read()
        return json.loads(raw) if raw else None


def seed(base):
    token = call(base, "POST", "/api/sign-up", {"email": "bench@example.com", "password": "correct horse"})["access_token"]
    tenants = []
    words = ["report", "deploy", "review", "meeting", "invoice", "design", "test", "fix", "plan", "write"]
    for t in range(TENANTS):
        tenant = call(base, "POST", "/api/tenants", {"name": f"Tenant {t}"}, token)["id"]
        for i in range(TODOS):
            call(base, "POST", "/api/todos", {"title": f"{words[i % 10]} {words[(i * 7 + t) % 10]} item {i}"}, token, tenant)
        tenants.append(tenant)
    return token, tenants


def proc_stats(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    return cpu, int(status["VmHWM"].split()[0]) // 1024, int(status["VmRSS"].split()[0]) // 1024


# ---- load generators ----------------------------------------------------------

def parse_wrk(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": pct(50), "p99": pct(99), "errors": int(errors.group(1)) if errors else 0}


def wrk(url, conc, duration, headers=(), script=None):
    cmd = ["wrk", f"-t{min(2, conc)}", f"-c{conc}", f"-d{duration}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def pgbench(pg_bin, admin_url, db_url, tenant, conc, duration):
    sql = (
        "BEGIN;\n"
        f"SELECT set_config('nile.tenant_id', '{tenant}', true);\n"
        "SELECT id, tenant_id, title, complete, estimate, estimate_status, estimate_minutes, estimate_basis, "
        "estimate_error, actual_minutes, created_at, updated_at FROM todos "
        f"WHERE tenant_id = '{tenant}' AND (NULL::boolean IS NULL OR complete = NULL) ORDER BY created_at DESC, id DESC;\n"
        "COMMIT;\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(sql)
    env = dict(os.environ, PGOPTIONS="-c role=aswan_app")
    out = subprocess.run(
        [os.path.join(pg_bin, "pgbench"), "-n", "-M", "prepared", "-c", str(conc), "-j", str(min(2, conc)),
         "-T", str(duration), "-f", f.name, db_url],
        capture_output=True, text=True, env=env, check=True).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    lat = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))
    return {"rps": tps, "p50": lat, "p99": None, "errors": 0}


# ---- the run ------------------------------------------------------------------

def bench_backend(name, database_url, ai_url, args, pg=None):
    work = tempfile.mkdtemp(prefix="aswan-bench-")
    proc, base = start_server(database_url, ai_url, work)
    time.sleep(0.5)
    idle_cpu, _, idle_rss = proc_stats(proc.pid)
    token, tenants = seed(base)
    tenant = tenants[0]
    auth = [f"Authorization: Bearer {token}", f"X-Tenant-Id: {tenant}"]
    # Creates go to another tenant: the listed one keeps its 50 todos.
    post_auth = [f"Authorization: Bearer {token}", f"X-Tenant-Id: {tenants[1]}"]
    post_lua = os.path.join(work, "post.lua")
    with open(post_lua, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                'local n = 0\nrequest = function()\n  n = n + 1\n'
                '  return wrk.format(nil, nil, nil, \'{"title": "bench task \' .. n .. \' of the load run"}\')\nend\n')
    login_lua = os.path.join(work, "login.lua")
    with open(login_lua, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                'wrk.body = \'{"email": "bench@example.com", "password": "correct horse"}\'\n')
    rows = []
    for conc in args.concurrency:
        cases = [
            ("GET /healthz", base + "/healthz", [], None),
            ("GET /api/todos (50)", base + "/api/todos", auth, None),
            ("POST /api/todos", base + "/api/todos", post_auth, post_lua),
            ("POST /api/login", base + "/api/login", [], login_lua),
        ]
        for label, url, headers, script in cases:
            cpu0, _, _ = proc_stats(proc.pid)
            r = wrk(url, conc, args.duration, headers, script)
            cpu1, peak, rss = proc_stats(proc.pid)
            total = r["rps"] * args.duration
            r.update(case=label, conc=conc, cpu_us=(cpu1 - cpu0) / total * 1e6 if total else 0, rss=rss, peak=peak)
            rows.append(r)
            print(f"{name:8} c={conc:<3} {label:22} {r['rps']:9.0f} req/s  p50 {r['p50']:7.2f} ms  p99 {r['p99']:7.2f} ms"
                  f"  cpu {r['cpu_us']:6.0f} us/req  rss {rss} MiB  errors {r['errors']}", flush=True)
        if pg:
            r = pgbench(pg["bin"], pg["admin"], database_url, tenant, conc, args.duration)
            r.update(case="pgbench: the list transaction", conc=conc, cpu_us=None, rss=None, peak=None)
            rows.append(r)
            print(f"{name:8} c={conc:<3} {'pgbench list tx':22} {r['rps']:9.0f} tx/s   avg {r['p50']:7.2f} ms", flush=True)
    _, peak, rss = proc_stats(proc.pid)
    proc.terminate()
    proc.wait()
    shutil.rmtree(work, ignore_errors=True)
    return {"backend": name, "rows": rows, "idle_rss": idle_rss, "peak_rss": peak}


def soak(ai_url, args):
    """Mixed load for args.soak seconds (5 s of lists, 5 s of creates, over
    and over); RSS every 10 s: steady growth would mean a leak."""
    work = tempfile.mkdtemp(prefix="aswan-soak-")
    proc, base = start_server(f"sqlite://{work}/soak.db", ai_url, work)
    token, tenants = seed(base)
    auth = [f"Authorization: Bearer {token}", f"X-Tenant-Id: {tenants[0]}"]
    post_lua = os.path.join(work, "post.lua")
    with open(post_lua, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                'wrk.body = \'{"title": "soak task"}\'\n')
    samples = []
    end = time.time() + args.soak
    while time.time() < end:
        # Alternate 10 s of lists and 10 s of creates (which grow the data).
        r1 = wrk(base + "/api/todos", 16, 5, auth)
        # Creates go to another tenant, so the listed one stays at 50 todos.
        r2 = wrk(base + "/api/todos", 16, 5, [auth[0], f"X-Tenant-Id: {tenants[1]}"], post_lua)
        cpu, peak, rss = proc_stats(proc.pid)
        samples.append({"t": round(args.soak - (end - time.time())), "rss": rss, "peak": peak,
                        "list_rps": round(r1["rps"]), "create_rps": round(r2["rps"])})
        print(samples[-1], flush=True)
    proc.terminate()
    proc.wait()
    out = os.path.join(os.path.dirname(args.out), "soak.json")
    with open(out, "w") as f:
        json.dump({"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "samples": samples}, f, indent=1)
    print(f"soak written to {os.path.relpath(out, ROOT)}")


def fresh_pg_database(admin_url, pg_bin):
    name = f"aswan_bench_{int(time.time())}"
    subprocess.run([os.path.join(pg_bin, "psql"), admin_url, "-qc", f"CREATE DATABASE {name}"], check=True)
    return admin_url.rsplit("/", 1)[0] + "/" + name


def main():
    global BIN
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--bin", default=BIN, help="the server binary (default: target/release/aswan)")
    ap.add_argument("--concurrency", default="1,16,64")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "load.json"))
    ap.add_argument("--soak", type=int, default=0, metavar="SECONDS",
                    help="instead: a soak of mixed list/create load on SQLite, sampling RSS every 10 s")
    args = ap.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    BIN = args.bin
    if not os.path.exists(BIN):
        raise SystemExit("build the server first: cargo build --release")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    fake, ai_url = start_fake_ai()
    if args.soak:
        return soak(ai_url, args)
    results = []
    sqlite_dir = tempfile.mkdtemp(prefix="aswan-bench-db-")
    results.append(bench_backend("sqlite", f"sqlite://{sqlite_dir}/bench.db", ai_url, args))
    env = subprocess.run([os.path.join(ROOT, "scripts", "pg-test-cluster"), "start"], capture_output=True, text=True, check=True).stdout
    admin = re.search(r"ASWAN_TEST_DATABASE_URL=(\S+)", env).group(1)
    pg_bin = re.search(r"ASWAN_PG_BIN=(\S+)", env).group(1)
    try:
        url = fresh_pg_database(admin, pg_bin)
        results.append(bench_backend("postgres", url, ai_url, args, pg={"bin": pg_bin, "admin": admin}))
    finally:
        subprocess.run([os.path.join(ROOT, "scripts", "pg-test-cluster"), "stop"], capture_output=True)
    fake.shutdown()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "duration_s": args.duration,
                   "nproc": os.cpu_count(), "results": results}, f, indent=1)
    print(f"results written to {os.path.relpath(args.out, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
