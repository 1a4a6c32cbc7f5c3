#!/usr/bin/env python3
"""Cold start and footprint of the release binary (BENCHMARKS.md, "Cold start
and footprint"): its size as built and stripped, the time from exec to the
first 200 on /healthz (a fresh data directory: migrations and a new JWT
secret; and a second start on the same database), and the idle RSS after
start, on SQLite and (with --pg-admin-url) PostgreSQL. Median of --runs.

    cargo build --release && python3 bench/footprint.py [--pg-admin-url postgres://…]
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "aswan")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def start(workdir, env):
    """(seconds from exec to the first 200 on /healthz, process)."""
    log_path = os.path.join(workdir, f"server-{time.monotonic_ns()}.log")
    log = open(log_path, "w")
    full = {"PATH": os.environ["PATH"], "BIND": "127.0.0.1:0", "LOG_FORMAT": "text", **env}
    t0 = time.perf_counter()
    proc = subprocess.Popen([BIN], cwd=workdir, env=full, stderr=log, stdout=subprocess.DEVNULL)
    base = None
    while True:
        if proc.poll() is not None:
            raise RuntimeError(open(log_path).read())
        if base is None:
            m = re.search(r"address=(\S+)", open(log_path).read())
            if m:
                base = f"http://{m.group(1)}"
        if base:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - t0, proc
            except OSError:
                pass
        time.sleep(0.002)


def stop(proc):
    proc.terminate()
    proc.wait(10)


def measure(label, make_env, runs):
    fresh, again, idle = [], [], []
    for _ in range(runs):
        workdir = tempfile.mkdtemp(prefix="aswan-footprint-")
        env = make_env(workdir)
        took, proc = start(workdir, env)
        fresh.append(took)
        stop(proc)
        took, proc = start(workdir, env)
        again.append(took)
        time.sleep(2)
        idle.append(rss_kib(proc.pid))
        stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)
    ms = lambda xs: f"{statistics.median(xs) * 1000:.0f} ms"  # noqa: E731
    return f"| {label} | {ms(fresh)} | {ms(again)} | {statistics.median(idle) / 1024:.1f} MiB |"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-admin-url")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    size = os.path.getsize(BIN)
    stripped = os.path.join(tempfile.mkdtemp(), "aswan")
    subprocess.run(["objcopy", "--strip-all", BIN, stripped], check=True)
    print(f"binary: {size / 2**20:.1f} MiB as built (line tables for backtraces), "
          f"{os.path.getsize(stripped) / 2**20:.1f} MiB stripped\n")
    print("| backend | exec → first 200 (fresh data dir) | exec → first 200 (again) | idle RSS |")
    print("|---|---|---|---|")
    print(measure("SQLite", lambda d: {"DATA_DIR": d}, args.runs))
    if args.pg_admin_url:
        psql = os.path.join(os.environ.get("ASWAN_PG_BIN", ""), "psql") if os.environ.get("ASWAN_PG_BIN") else "psql"
        counter = iter(range(10**6))

        def pg_env(workdir):
            name = f"footprint_{os.getpid()}_{next(counter)}"
            subprocess.run([psql, args.pg_admin_url, "-qAtc", f"CREATE DATABASE {name}"], check=True,
                           capture_output=True)
            return {"DATA_DIR": workdir, "DATABASE_URL": f"{args.pg_admin_url.rsplit('/', 1)[0]}/{name}"}

        print(measure("PostgreSQL", pg_env, args.runs))


if __name__ == "__main__":
    main()
