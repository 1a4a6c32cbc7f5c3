#!/usr/bin/env python3
"""Load benchmark: the release server on SQLite and on PostgreSQL, side by side
with its ceilings, and optionally with a baseline build, measured in the same run.

  cargo build --release --example fake_vendor
  python3 bench/load.py [--duration 5] [--concurrency 8,16,64] [--baseline-bin OLD] [--out …]
  python3 bench/load.py --soak 900        # memory over a 15-minute soak, both backends

For each backend it starts `target/release/aswan` (and the baseline build, on
its own database) with a fake OpenAI-compatible vendor that answers at once
(examples/fake_vendor.rs), seeds 10 tenants x 50 todos, and drives it with
wrk, each cell for each build in turn:
  - GET /healthz                     the framework's overhead: no database
  - GET /api/todos                   a list of 50 todos in tenant context (lean)
  - GET /api/todos?include=basis     the same with each estimate's basis (c=16)
  - POST /api/todos                  a create, estimate included (fake vendor)
  - POST /api/login                  argon2id-bound by design
recording throughput, p50/p99 latency, server CPU time per request and
RSS. On PostgreSQL, pgbench runs the very transaction the server runs for a
list (BEGIN; SET LOCAL; SELECT; COMMIT) as the app role at the same
concurrency: server / pgbench is the headline ratio.
"""

import argparse
import concurrent.futures
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
LOGIN_ACCOUNTS = 256


# ---- a fake vendor that answers at once --------------------------------------

VENDOR = os.path.join(ROOT, "target", "release", "examples", "fake_vendor")


def start_fake_ai():
    """examples/fake_vendor.rs: compiled and single-threaded, so its CPU takes
    little from the server under test (a Python one cost more per create
    than the server itself)."""
    if not os.path.exists(VENDOR):
        raise SystemExit("build the fake vendor first: cargo build --release --example fake_vendor")
    proc = subprocess.Popen([VENDOR], stdout=subprocess.PIPE, text=True)
    addr = proc.stdout.readline().split()[-1]
    return proc, f"http://{addr}/v1"


# ---- the server -------------------------------------------------------------

def start_server(database_url, ai_url, workdir, bin_path=None, extra_env=None):
    env = {
        "PATH": os.environ["PATH"], "BIND": "127.0.0.1:0", "DATABASE_URL": database_url,
        "LOG_LEVEL": "warn,aswan=info", "AI_BASE_URL": ai_url, "EMBEDDING_DIMENSIONS": "384",
        "DB_MAX_CONNECTIONS": "32", "JWT_SECRET": "bench-secret-0123456789abcdef-0123456789",
        # The load comes from one address: lift the per-client limits.
        "AUTH_RATE_PER_MINUTE": "100000", "TENANT_RATE_PER_HOUR": "100000",
    }
    env.update(extra_env or {})
    proc = subprocess.Popen([bin_path or BIN], cwd=workdir, env=env, stderr=subprocess.PIPE, text=True)
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


def seed_logins(base):
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: call(base, "POST", "/api/sign-up",
                                     {"email": f"login{i}@example.com", "password": "correct horse"}),
                      range(LOGIN_ACCOUNTS)))


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
        # The list's own statement (src/store/todos.rs, without the basis),
        # its parameters as literals.
        "SELECT id, tenant_id, title, complete, estimate, estimate_status, estimate_minutes, NULL, "
        "estimate_error, actual_minutes, created_at, updated_at FROM todos "
        f"WHERE tenant_id = '{tenant}' AND (NULL::boolean IS NULL OR complete = NULL) "
        "AND (NULL::timestamptz IS NULL) ORDER BY created_at DESC, id DESC LIMIT 201;\n"
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

def post_scripts(work):
    post_lua = os.path.join(work, "post.lua")
    with open(post_lua, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                'local n = 0\nrequest = function()\n  n = n + 1\n'
                '  return wrk.format(nil, nil, nil, \'{"title": "bench task \' .. n .. \' of the load run"}\')\nend\n')
    # Logins rotate over LOGIN_ACCOUNTS accounts: one account is throttled
    # to 60 attempts a minute from all clients (src/http/throttle.rs).
    login_lua = os.path.join(work, "login.lua")
    with open(login_lua, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                'local n = 0\nrequest = function()\n  n = n + 1\n'
                f'  return wrk.format(nil, nil, nil, \'{{"email": "login\' .. (n % {LOGIN_ACCOUNTS}) .. '
                '\'@example.com", "password": "correct horse"}\')\nend\n')
    return post_lua, login_lua


class Server:
    """One build under test on one database, seeded."""

    def __init__(self, label, bin_path, database_url, ai_url, extra_env=None):
        self.label = label
        self.work = tempfile.mkdtemp(prefix="aswan-bench-")
        self.proc, self.base = start_server(database_url, ai_url, self.work, bin_path, extra_env)
        time.sleep(0.5)
        _, _, self.idle_rss = proc_stats(self.proc.pid)
        self.token, self.tenants = seed(self.base)
        self.login_seeded = False
        self.auth = [f"Authorization: Bearer {self.token}", f"X-Tenant-Id: {self.tenants[0]}"]
        # Creates go to another tenant: the listed one keeps its 50 todos.
        self.post_auth = [f"Authorization: Bearer {self.token}", f"X-Tenant-Id: {self.tenants[1]}"]
        self.post_lua, self.login_lua = post_scripts(self.work)

    def cases(self):
        return [
            ("GET /healthz", self.base + "/healthz", [], None),
            ("GET /api/todos (50)", self.base + "/api/todos", self.auth, None),
            ("GET /api/todos?include=basis (50)", self.base + "/api/todos?include=basis", self.auth, None),
            ("POST /api/todos", self.base + "/api/todos", self.post_auth, self.post_lua),
            ("POST /api/login", self.base + "/api/login", [], self.login_lua),
        ]

    def stop(self):
        _, peak, _ = proc_stats(self.proc.pid)
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.work, ignore_errors=True)
        return peak


def bench_backend(name, database_urls, ai_url, args, pg=None):
    """Every cell for each build in turn (baseline, then this build), so the
    two are compared under the same conditions, cell by cell."""
    builds = [("this", args.bin)] + ([("baseline", args.baseline_bin)] if args.baseline_bin else [])
    servers = [Server(label, b, url, ai_url) for (label, b), url in zip(builds, database_urls)]
    rows = []
    for conc in args.concurrency:
        for i, (label, url, headers, script) in enumerate(servers[0].cases()):
            if label == "GET /api/todos?include=basis (50)" and conc not in (16,):
                continue
            for server in servers:
                if label == "POST /api/login" and not server.login_seeded:
                    seed_logins(server.base)
                    server.login_seeded = True
                _, url, headers, script = server.cases()[i]
                cpu0, _, _ = proc_stats(server.proc.pid)
                r = wrk(url, conc, args.duration, headers, script)
                cpu1, peak, rss = proc_stats(server.proc.pid)
                total = r["rps"] * args.duration
                r.update(case=label, conc=conc, build=server.label,
                         cpu_us=(cpu1 - cpu0) / total * 1e6 if total else 0, rss=rss, peak=peak)
                rows.append(r)
                print(f"{name:8} {server.label:8} c={conc:<3} {label:34} {r['rps']:9.0f} req/s  p50 {r['p50']:7.2f} ms"
                      f"  p99 {r['p99']:7.2f} ms  cpu {r['cpu_us']:6.0f} us/req  rss {rss} MiB  errors {r['errors']}",
                      flush=True)
        if pg:
            r = pgbench(pg["bin"], pg["admin"], database_urls[0], servers[0].tenants[0], conc, args.duration)
            r.update(case="pgbench: the list transaction", conc=conc, build="pgbench", cpu_us=None, rss=None, peak=None)
            rows.append(r)
            print(f"{name:8} {'pgbench':8} c={conc:<3} {'the list transaction':34} {r['rps']:9.0f} tx/s   "
                  f"avg {r['p50']:7.2f} ms", flush=True)
    out = {"backend": name, "rows": rows}
    for server in servers:
        out[server.label] = {"idle_rss": server.idle_rss, "peak_rss": server.stop()}
    # Kept for bench/report.py's single-build tables.
    out["idle_rss"], out["peak_rss"] = out["this"]["idle_rss"], out["this"]["peak_rss"]
    return out


def soak(ai_url, args, pg):
    """Mixed load for args.soak seconds on both backends: 5 s of lists, then
    5 s of creates (which grow another tenant), on SQLite and then on
    PostgreSQL, over and over; RSS after each round. Growth that does not
    level off would be a leak."""
    extra = dict(kv.split("=", 1) for kv in args.env)
    servers = []
    if "sqlite" in args.backends:
        servers.append(Server("sqlite", args.bin, f"sqlite://{tempfile.mkdtemp(prefix='aswan-soak-')}/soak.db",
                              ai_url, extra))
    if pg and "postgres" in args.backends:
        servers.append(Server("postgres", args.bin, fresh_pg_database(pg["admin"], pg["bin"]), ai_url, extra))
    samples = []
    begin = time.time()
    end = begin + args.soak
    while time.time() < end:
        sample = {"t": round(time.time() - begin)}
        for s in servers:
            r1 = wrk(s.base + "/api/todos", 16, 5, s.auth)
            r2 = wrk(s.base + "/api/todos", 8, 5, s.post_auth, s.post_lua)
            _, peak, rss = proc_stats(s.proc.pid)
            sample[s.label] = {"rss": rss, "peak": peak, "list_rps": round(r1["rps"]), "create_rps": round(r2["rps"])}
        samples.append(sample)
        print(sample, flush=True)
    for s in servers:
        s.stop()
    out = args.soak_out or os.path.join(os.path.dirname(args.out), "soak.json")
    with open(out, "w") as f:
        json.dump({"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "env": args.env,
                   "samples": samples}, f, indent=1)
    print(f"soak written to {os.path.relpath(out, ROOT)}")


def fresh_pg_database(admin_url, pg_bin):
    name = f"aswan_bench_{int(time.time() * 1000)}"
    subprocess.run([os.path.join(pg_bin, "psql"), admin_url, "-qc", f"CREATE DATABASE {name}"], check=True)
    return admin_url.rsplit("/", 1)[0] + "/" + name


def main():
    global BIN
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--bin", default=BIN, help="the server binary (default: target/release/aswan)")
    ap.add_argument("--baseline-bin", help="another build, measured cell by cell against this one")
    ap.add_argument("--concurrency", default="8,16,64")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "load.json"))
    ap.add_argument("--soak", type=int, default=0, metavar="SECONDS",
                    help="instead: a soak of mixed list/create load on both backends, sampling RSS")
    ap.add_argument("--backends", default="sqlite,postgres", help="the soak's backends")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="an extra environment variable for the soak's servers (repeatable)")
    ap.add_argument("--soak-out", help="where the soak's samples go (default: soak.json beside --out)")
    args = ap.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    BIN = args.bin
    if not os.path.exists(BIN):
        raise SystemExit("build the server first: cargo build --release")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    fake, ai_url = start_fake_ai()
    env = subprocess.run([os.path.join(ROOT, "scripts", "pg-test-cluster"), "start"], capture_output=True, text=True, check=True).stdout
    pg = {"admin": re.search(r"ASWAN_TEST_DATABASE_URL=(\S+)", env).group(1),
          "bin": re.search(r"ASWAN_PG_BIN=(\S+)", env).group(1)}
    try:
        if args.soak:
            return soak(ai_url, args, pg)
        results = []
        n = 2 if args.baseline_bin else 1
        sqlite_urls = [f"sqlite://{tempfile.mkdtemp(prefix='aswan-bench-db-')}/bench.db" for _ in range(n)]
        results.append(bench_backend("sqlite", sqlite_urls, ai_url, args))
        pg_urls = [fresh_pg_database(pg["admin"], pg["bin"]) for _ in range(n)]
        results.append(bench_backend("postgres", pg_urls, ai_url, args, pg=pg))
    finally:
        fake.terminate()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "duration_s": args.duration,
                   "nproc": os.cpu_count(), "baseline": args.baseline_bin, "results": results}, f, indent=1)
    print(f"results written to {os.path.relpath(args.out, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
