#!/usr/bin/env python3
"""Fuzzes the API against its own OpenAPI description with schemathesis, on
SQLite and on PostgreSQL: the server's answers must never be 5xx and must
conform to the description (status codes, content types, headers, bodies).

For each backend: the binary on a free loopback port, a user with a tenant
and a few todos, then schemathesis over every operation, signed in as that
user (Bearer), with the tenant's id in the tenant path parameter and the
`X-Tenant-Id` header. Bounded: a fixed number of examples per operation and
a hard timeout per run. Three passes: the API; the operations whose valid
input obeys a rule JSON Schema cannot state (RULES below); last, what ends
the session the others use (logout, ending sessions, deleting the account). Run by ./scripts/test:

    python3 tests/fuzz/fuzz.py --bin target/release/aswan --pg-admin-url postgres://...

schemathesis comes pinned from the suite's virtualenv (scripts/py-venv).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

PASSWORD = "correct horse battery"
SECRET = "fuzz-run-secret-0123456789abcdef-0123456789abcdef"
EXAMPLES = 100
# A hard stop for one schemathesis run (it normally ends by itself, after
# EXAMPLES per operation; its own --max-time would instead repeat until spent).
TIMEOUT_S = 900
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The abuse run's server and database helpers (tests/abuse/abuse.py).
sys.path.insert(0, os.path.join(ROOT, "tests", "abuse"))
from abuse import Server, create_pg_database  # noqa: E402


def schemathesis_bin():
    """schemathesis, pinned, from the suite's virtualenv (scripts/py-venv)."""
    python = subprocess.run([os.path.join(ROOT, "scripts", "py-venv")], check=True, capture_output=True,
                            text=True).stdout.strip()
    return os.path.join(os.path.dirname(python), "schemathesis")


def call(base, method, path, body=None, token=None, with_headers=False):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as res:
        body = json.loads(res.read())
        return (body, res.headers) if with_headers else body


def seed(base):
    """A user, their tenant and a few todos (one done, with a duration);
    a cursor this server gave out (a list's next page)."""
    token = call(base, "POST", "/api/sign-up", {"email": "fuzz@example.com", "password": PASSWORD})["access_token"]
    tenant = call(base, "POST", "/api/tenants", {"name": "Fuzz"}, token)["id"]
    todos = [call(base, "POST", f"/api/tenants/{tenant}/todos", {"title": t}, token)
             for t in ["Write the pricing article", "Fix login bug on Safari", "Buy milk"]]
    call(base, "PATCH", f"/api/tenants/{tenant}/todos/{todos[1]['id']}", {"actual_minutes": 90}, token)
    _, headers = call(base, "GET", f"/api/tenants/{tenant}/todos?limit=1", token=token, with_headers=True)
    cursor = re.search(r"cursor=([A-Za-z0-9_-]+)", headers["Link"]).group(1)
    return token, tenant, cursor


def schemathesis(st, base, seeded, workdir, extra, label):
    """One run; returns (exit code, summary line)."""
    token, tenant, cursor = seeded
    config = os.path.join(workdir, "schemathesis.toml")
    with open(config, "w") as f:
        # Known-good values where the description cannot say what is valid:
        # the caller's tenant (random ids only reach the 404 of a tenant
        # that does not exist) and a cursor this server gave out (random
        # ones are a 400, as they should be). The rest is generated.
        f.write(f'[parameters]\n"path.tenant_id" = "{tenant}"\n"header.X-Tenant-Id" = "{tenant}"\n'
                f'"query.cursor" = "{cursor}"\n')
    report = os.path.join(workdir, f"report-{label}.json")
    cmd = [st, "--config-file", config, "run", f"{base}/api/openapi.json",
           "--checks", "all",
           "--max-examples", str(EXAMPLES),
           "--seed", "20261129", "--workers", "1",
           "--request-timeout", "30",
           "--suppress-health-check", "all",
           "-H", f"Authorization: Bearer {token}",
           "--report", "json", "--report-json-path", report,
           *extra]
    started = time.time()
    env = {**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": "hooks"}
    env["PYTHONPATH"] = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, env=env, timeout=TIMEOUT_S)
    took = time.time() - started
    text = out.stdout + out.stderr
    print(text if out.returncode else text[-3000:])
    return out.returncode, took


# Operations that end the fuzzing session (or the account) run last.
ENDINGS = ["logout", "end_session", "end_every_session", "delete_account"]

# Operations whose valid input obeys a rule no JSON Schema can state, so that
# bodies the description admits are rightly refused (422): an import must be
# an Aswan export; a password must not be one of the common ones (a list of
# 3,546, compared without case); an email must keep to one script per part;
# a tenant's deletion needs its exact name. They run in their own pass
# without the "schema-valid input is accepted" check; every other check runs.
RULES = ["import_tenant", "sign_up", "change_password", "confirm_password_reset", "add_member",
         "invite_member", "delete_tenant"]

PASSES = [
    ("api", [arg for op in ENDINGS + RULES for arg in ("--exclude-operation-id", op)]),
    ("rules", [arg for op in RULES for arg in ("--include-operation-id", op)]
     + ["--exclude-checks", "positive_data_acceptance"]),
    # Last: they end the session the other passes use.
    ("endings", [arg for op in ENDINGS for arg in ("--include-operation-id", op)]),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True)
    parser.add_argument("--pg-admin-url", required=True)
    args = parser.parse_args()
    binary = os.path.abspath(args.bin)
    st = schemathesis_bin()
    failed = []
    for backend in ["sqlite", "postgres"]:
        workdir = tempfile.mkdtemp(prefix=f"fuzz-{backend}-")
        # The built-in model: estimates and search run as they do by default.
        env = {"DATA_DIR": workdir, "EMBEDDING_PROVIDER": "local", "JWT_SECRET": SECRET}
        if backend == "postgres":
            env["DATABASE_URL"] = create_pg_database(args, f"fuzz_{os.getpid()}")
        server = Server(binary, workdir, env)
        try:
            seeded = seed(server.base)
            for label, extra in PASSES:
                code, took = schemathesis(st, server.base, seeded, workdir, extra, f"{backend}-{label}")
                print(f"fuzz: {backend} {label}: {'passed' if code == 0 else 'FAILED'} in {took:.0f} s")
                if code:
                    failed.append(f"{backend} {label}")
            panics = [line for line in server.logs().splitlines() if "panicked" in line]
            if panics:
                failed.append(f"{backend}: the server panicked: {panics[0]}")
        finally:
            server.stop()
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"fuzz: {2 - len({f.split()[0] for f in failed})} of 2 backends clean" + (f"; failed: {failed}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
