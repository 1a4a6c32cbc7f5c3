#!/usr/bin/env python3
"""Instruction profile of the list endpoint: the release server under
callgrind, seeded like bench/load.py (10 tenants x 50 todos, fake vendor),
counters zeroed after seeding, then N lists of one tenant. Instruction
counts do not depend on what else the machine is doing, so before/after
comparisons hold even on a busy box.

  eval "$(scripts/pg-test-cluster start)"    # for --backend postgres
  python3 bench/profile_list.py [--backend sqlite|postgres] [--requests 200]
  callgrind_annotate --inclusive=yes target/callgrind.list.out | head -60
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--out", default=os.path.join(load.ROOT, "target", "callgrind.list.out"))
    args = ap.parse_args()
    fake, ai_url = load.start_fake_ai()
    work = tempfile.mkdtemp(prefix="aswan-prof-")
    if args.backend == "postgres":
        admin = os.environ["ASWAN_TEST_DATABASE_URL"]
        url = load.fresh_pg_database(admin, os.environ["ASWAN_PG_BIN"])
    else:
        url = f"sqlite://{work}/prof.db"
    env = {
        "PATH": os.environ["PATH"], "BIND": "127.0.0.1:0", "DATABASE_URL": url,
        "LOG_LEVEL": "warn,aswan=info", "AI_BASE_URL": ai_url, "EMBEDDING_DIMENSIONS": "384",
        "JWT_SECRET": "bench-secret-0123456789abcdef-0123456789",
        # The load comes from one address: lift the per-client limits.
        "AUTH_RATE_PER_MINUTE": "100000", "TENANT_RATE_PER_HOUR": "100000",
    }
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={args.out}", load.BIN],
        cwd=work, env=env, stderr=subprocess.PIPE, text=True)
    base = None
    for line in proc.stderr:
        m = re.search(r"address=(\S+)", line)
        if m:
            base = f"http://{m.group(1)}"
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            break
    token, tenants = load.seed(base)
    load.call(base, "GET", "/api/todos", token=token, tenant=tenants[0])
    subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True, capture_output=True)
    started = time.time()
    for _ in range(args.requests):
        req = urllib.request.Request(base + "/api/todos")
        req.add_header("Authorization", f"Bearer {token}")
        req.add_header("X-Tenant-Id", tenants[0])
        with urllib.request.urlopen(req) as res:
            size = len(res.read())
    subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
    proc.terminate()
    proc.wait()
    fake.terminate()
    dumps = sorted(f for f in os.listdir(os.path.dirname(args.out)) if f.startswith(os.path.basename(args.out)))
    total = 0
    for f in dumps:
        with open(os.path.join(os.path.dirname(args.out), f)) as fh:
            for line in fh:
                if line.startswith("summary:") or line.startswith("totals:"):
                    total = max(total, int(line.split()[1]))
    print(f"{args.backend}: {args.requests} lists of {size} bytes in {time.time() - started:.1f} s under callgrind")
    print(f"instructions per list (server process, last dump): {total / args.requests:,.0f}")


if __name__ == "__main__":
    main()
