#!/usr/bin/env python3
"""Many tenants: does anything slow down with a million of them?

  python3 bench/tenants.py [--tenants 1000000] [--users 100000] [--backend postgres|sqlite|both]

For each size — a 10-tenant baseline, then the large one — the release server
starts on a fresh database (built-in model off: this is about tenants), a
bench user signs up and creates a tenant with 10 todos over HTTP, and the
server stops. Then the database is filled straight with SQL: users (each
with the bench user's password credential), tenants with one owner each
(tenant g -> user g mod USERS), and 10 todos per tenant cloned from the bench
tenant's; the bench user also joins 1,000 of the tenants (or all of them, if
fewer). The server starts again and, one request at a time:
  - lists a tenant's todos (each request another of the bench user's tenants)
  - opens a tenant (the membership check and the tenant row)
  - signs up new users, creates tenants
  - pages through the bench user's tenant list (100 per page)
reporting p50/p99 per operation, setup time and database size per tenant.
"""

import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402

TODOS_PER_TENANT = 10
MEMBER_OF = 1000
PASSWORD = "correct horse"


def start(database_url, work):
    return load.start_server(database_url, "", work, extra_env={
        "EMBEDDING_PROVIDER": "none", "AI_BASE_URL": "", "DB_MAX_CONNECTIONS": "8"})


def timed(fn, n):
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"p50": statistics.median(times), "p99": times[min(len(times) - 1, int(len(times) * 0.99))], "n": n}


def uid(kind, g):
    return uuid.UUID(f"00000000-0000-4000-80{kind:02x}-{g:012x}")


# ---- bulk fill ----------------------------------------------------------------

def fill_postgres(url, pg_bin, tenants, users, template, bench_user):
    """One SQL script; ids are deterministic (kind, number) so that rows can be
    joined without lookups."""
    sql = f"""
\\set ON_ERROR_STOP on
SET search_path = public, users, auth;
INSERT INTO users.users (id, email, created_at, email_verified_at)
  SELECT ('00000000-0000-4000-8002-' || lpad(to_hex(g), 12, '0'))::uuid, 'bulk' || g || '@example.com', now(), now()
  FROM generate_series(1, {users}) g;
INSERT INTO auth.credentials (user_id, method, payload, created_at)
  SELECT ('00000000-0000-4000-8002-' || lpad(to_hex(g), 12, '0'))::uuid, 'PASSWORD',
         (SELECT payload FROM auth.credentials WHERE user_id = '{bench_user}'), now()
  FROM generate_series(1, {users}) g;
"""
    step = 100_000
    for lo in range(1, tenants + 1, step):
        hi = min(tenants, lo + step - 1)
        sql += f"""
INSERT INTO tenants (id, name, created_at)
  SELECT ('00000000-0000-4000-8001-' || lpad(to_hex(g), 12, '0'))::uuid, 'Bulk ' || g, now()
  FROM generate_series({lo}, {hi}) g;
INSERT INTO users.tenant_users (tenant_id, user_id, role, created_at)
  SELECT ('00000000-0000-4000-8001-' || lpad(to_hex(g), 12, '0'))::uuid,
         ('00000000-0000-4000-8002-' || lpad(to_hex(g % {users} + 1), 12, '0'))::uuid, 'owner', now()
  FROM generate_series({lo}, {hi}) g;
INSERT INTO todos (tenant_id, id, title, complete, estimate, created_at, updated_at, estimate_status)
  SELECT ('00000000-0000-4000-8001-' || lpad(to_hex(g), 12, '0'))::uuid, gen_random_uuid(),
         tt.title, tt.complete, tt.estimate, tt.created_at, tt.updated_at, tt.estimate_status
  FROM generate_series({lo}, {hi}) g CROSS JOIN (SELECT * FROM todos WHERE tenant_id = '{template}') tt;
"""
    sql += f"""
INSERT INTO users.tenant_users (tenant_id, user_id, role, created_at)
  SELECT ('00000000-0000-4000-8001-' || lpad(to_hex(g * {max(1, tenants // MEMBER_OF)}), 12, '0'))::uuid,
         '{bench_user}', 'member', now()
  FROM generate_series(1, {min(MEMBER_OF, tenants)}) g;
VACUUM ANALYZE;
"""
    env = dict(os.environ, PGOPTIONS="-c maintenance_work_mem=1GB")
    subprocess.run([os.path.join(pg_bin, "psql"), "-q", url], input=sql, text=True, check=True, env=env)


def fill_sqlite(path, tenants, users, template, bench_user):
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    (payload,) = db.execute("SELECT payload FROM credentials WHERE user_id = ?", (bench_user.bytes,)).fetchone()
    (at,) = db.execute("SELECT created_at FROM tenants WHERE id = ?", (template.bytes,)).fetchone()
    todos = db.execute("SELECT title, complete, estimate, created_at, updated_at, estimate_status FROM todos "
                       "WHERE tenant_id = ?", (template.bytes,)).fetchall()
    db.executemany("INSERT INTO users (id, email, created_at, email_verified_at) VALUES (?, ?, ?, ?)",
                   ((uid(2, g).bytes, f"bulk{g}@example.com", at, at) for g in range(1, users + 1)))
    db.executemany("INSERT INTO credentials (user_id, method, payload, created_at) VALUES (?, 'PASSWORD', ?, ?)",
                   ((uid(2, g).bytes, payload, at) for g in range(1, users + 1)))
    db.executemany("INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)",
                   ((uid(1, g).bytes, f"Bulk {g}", at) for g in range(1, tenants + 1)))
    db.executemany("INSERT INTO tenant_users (tenant_id, user_id, role, created_at) VALUES (?, ?, 'owner', ?)",
                   ((uid(1, g).bytes, uid(2, g % users + 1).bytes, at) for g in range(1, tenants + 1)))
    db.executemany("INSERT INTO todos (tenant_id, id, title, complete, estimate, created_at, updated_at, estimate_status) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   ((uid(1, g).bytes, uuid.uuid4().bytes, *t) for g in range(1, tenants + 1) for t in todos))
    every = max(1, tenants // MEMBER_OF)
    db.executemany("INSERT INTO tenant_users (tenant_id, user_id, role, created_at) VALUES (?, ?, 'member', ?)",
                   ((uid(1, g * every).bytes, bench_user.bytes, at) for g in range(1, min(MEMBER_OF, tenants) + 1)))
    db.commit()
    db.execute("ANALYZE")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def my_tenants(base, token):
    """Every tenant id of the user, following the list's `Link: rel="next"`
    pages of 100."""
    ids, page = [], "/api/tenants?limit=100"
    while page:
        req = urllib.request.Request(base + page, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req) as res:
            ids += [t["id"] for t in json.loads(res.read())]
            m = re.search(r"<([^>]+)>;\s*rel=\"next\"", res.headers.get("Link") or "")
            page = m.group(1).replace(base, "") if m else None
    return ids


# ---- one size -------------------------------------------------------------------

def case(backend, tenants, users, pg):
    work = tempfile.mkdtemp(prefix="aswan-tenants-")
    if backend == "postgres":
        url = load.fresh_pg_database(pg["admin"], pg["bin"])
    else:
        url = f"sqlite://{work}/tenants.db"
    proc, base = start(url, work)
    signup = load.call(base, "POST", "/api/sign-up", {"email": "bench@example.com", "password": PASSWORD})
    token = signup["access_token"]
    me = load.call(base, "GET", "/api/me", token=token)
    template = uuid.UUID(load.call(base, "POST", "/api/tenants", {"name": "Bench"}, token)["id"])
    for i in range(TODOS_PER_TENANT):
        load.call(base, "POST", f"/api/tenants/{template}/todos", {"title": f"Task {i} of the bench tenant"}, token)
    proc.terminate()
    proc.wait()
    t0 = time.time()
    if backend == "postgres":
        fill_postgres(url, pg["bin"], tenants, users, template, me["id"])
    else:
        fill_sqlite(f"{work}/tenants.db", tenants, users, template, uuid.UUID(me["id"]))
    setup = time.time() - t0
    if backend == "postgres":
        size = int(subprocess.run([os.path.join(pg["bin"], "psql"), "-Atc", "SELECT pg_database_size(current_database())", url],
                                  capture_output=True, text=True, check=True).stdout)
    else:
        size = sum(os.path.getsize(os.path.join(work, f)) for f in os.listdir(work) if f.startswith("tenants.db"))
    proc, base = start(url, work)
    mine = my_tenants(base, token)
    ids = [t for t in mine if t != str(template)] or [str(template)]
    out = {"backend": backend, "tenants": tenants + 1, "users": users + 1, "todos": (tenants + 1) * TODOS_PER_TENANT,
           "setup_s": round(setup, 1), "db_bytes": size, "bytes_per_tenant": round(size / (tenants + 1)),
           "member_of": len(mine)}
    get = lambda path: load.call(base, "GET", path, token=token)  # noqa: E731
    # Warm the server (first connections, statement caches).
    for t in ids[:20]:
        get(f"/api/tenants/{t}/todos")
    # Each list another of the user's tenants (cold pages once there are
    # many), and the same tenant over and over (hot).
    out["list"] = timed(lambda i: get(f"/api/tenants/{ids[i % len(ids)]}/todos"), 500)
    out["list_same_tenant"] = timed(lambda i: get(f"/api/tenants/{ids[0]}/todos"), 500)
    out["open_tenant"] = timed(lambda i: get(f"/api/tenants/{ids[(i * 7) % len(ids)]}"), 500)
    out["tenant_list_first_page"] = timed(lambda i: get("/api/tenants?limit=100"), 200)

    out["tenant_list_all_pages"] = timed(lambda _: my_tenants(base, token), 20)
    out["create_tenant"] = timed(lambda i: load.call(base, "POST", "/api/tenants", {"name": f"New {i}"}, token), 100)
    run = uuid.uuid4().hex[:6]
    out["sign_up"] = timed(lambda i: load.call(base, "POST", "/api/sign-up",
                                               {"email": f"new{run}{i}@example.com", "password": PASSWORD}), 30)
    _, peak, rss = load.proc_stats(proc.pid)
    out["rss_mib"] = rss
    proc.terminate()
    proc.wait()
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out), flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tenants", type=int, default=1_000_000)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--sqlite-tenants", type=int, default=1_000_000,
                    help="the large SQLite case (default: as many as on PostgreSQL)")
    ap.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="both")
    ap.add_argument("--out", default=os.path.join(load.ROOT, "bench", "results", "tenants.json"))
    args = ap.parse_args()
    env = subprocess.run([os.path.join(load.ROOT, "scripts", "pg-test-cluster"), "start"],
                         capture_output=True, text=True, check=True).stdout
    pg = {"admin": re.search(r"ASWAN_TEST_DATABASE_URL=(\S+)", env).group(1),
          "bin": re.search(r"ASWAN_PG_BIN=(\S+)", env).group(1)}
    results = []
    backends = ["postgres", "sqlite"] if args.backend == "both" else [args.backend]
    for backend in backends:
        big = args.tenants if backend == "postgres" else args.sqlite_tenants
        # The bench user's own tenant is one more; the baseline has 10 in all.
        for tenants, users in [(9, 9), (big - 1, args.users)]:
            results.append(case(backend, tenants, users, pg))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "results": results}, f, indent=1)
    ops = ["list", "list_same_tenant", "open_tenant", "tenant_list_first_page", "tenant_list_all_pages", "create_tenant", "sign_up"]
    print("\n| backend | tenants | todos | setup | DB per tenant | "
          + " | ".join(f"{o} p50 ms" for o in ops) + " | member of |")
    print("|---|---|---|---|---|" + "---|" * len(ops) + "---|")
    for r in results:
        print(f"| {r['backend']} | {r['tenants']:,} | {r['todos']:,} | {r['setup_s']} s | {r['bytes_per_tenant']:,} B | "
              + " | ".join(f"{r[o]['p50']:.2f}" for o in ops) + f" | {r['member_of']} |")
    for backend in backends:
        small, large = [r for r in results if r["backend"] == backend]
        print(f"- {backend}: list p50 at {large['tenants']:,} tenants ÷ at 10 = "
              f"**{large['list']['p50'] / small['list']['p50']:.2f}** (goal ≤ 1.20); the same tenant each time: "
              f"**{large['list_same_tenant']['p50'] / small['list_same_tenant']['p50']:.2f}**")


if __name__ == "__main__":
    sys.exit(main())
