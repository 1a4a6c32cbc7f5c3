#!/usr/bin/env python3
"""The connection budget: what N held connections cost the server (RSS) and
another client (its /healthz latency), for connections held in three states.

    python3 bench/connections.py --bin target/release/aswan [--n 10000] [--baseline-bin OLD]

* silent: connected, nothing sent (closed after HEADER_READ_TIMEOUT);
* one byte: the first byte of a request sent, the rest withheld (hyper has
  begun reading: closed after HEADER_READ_TIMEOUT too);
* keep-alive: one whole request answered, the connection kept open for the
  next (closed after HEADER_READ_TIMEOUT of silence).

The server runs on SQLite with HEADER_READ_TIMEOUT=300 (so nothing closes
while measuring) and the connection caps lifted to fit N; connections come
from 127.0.0.0/8, 250 per source address. Standard library only. Prints a
Markdown table (KiB per connection = RSS delta / N).
"""

import argparse
import os
import re
import resource
import socket
import statistics
import subprocess
import tempfile
import time


def raise_nofile():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class Server:
    def __init__(self, binary, n):
        self.dir = tempfile.mkdtemp(prefix="aswan-conns-")
        self.log_path = os.path.join(self.dir, "server.log")
        env = {
            "PATH": os.environ["PATH"], "BIND": "127.0.0.1:0", "LOG_FORMAT": "text", "LOG_LEVEL": "warn,aswan=info",
            "DATA_DIR": self.dir, "EMBEDDING_PROVIDER": "none", "HEADER_READ_TIMEOUT": "300",
            "MAX_CONNECTIONS": str(n + 100), "MAX_CONNECTIONS_PER_CLIENT": str(n + 100),
            "MAX_CONNECTIONS_PER_NETWORK": str(n + 100),
        }
        self.proc = subprocess.Popen([binary], cwd=self.dir, env=env, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log_path, "w"), preexec_fn=raise_nofile)
        deadline = time.time() + 30
        self.addr = None
        while self.addr is None and time.time() < deadline:
            time.sleep(0.1)
            m = re.search(r"address=(\S+)", open(self.log_path).read())
            if m:
                host, port = m.group(1).rsplit(":", 1)
                self.addr = (host, int(port))
        if self.addr is None:
            raise RuntimeError(open(self.log_path).read())

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def request(addr, source="127.0.0.1"):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(5)
    s.connect(addr)
    t0 = time.perf_counter()
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    while s.recv(65536):
        pass
    s.close()
    return (time.perf_counter() - t0) * 1000


def latency(addr, n=200):
    times = sorted(request(addr, "127.200.0.1") for _ in range(n))
    return statistics.median(times), times[-1]


def settle(server):
    """RSS once it stops moving (the allocator returns what it will)."""
    last = server.rss_kib()
    for _ in range(20):
        time.sleep(0.25)
        now = server.rss_kib()
        if abs(now - last) < 64:
            return now
        last = now
    return last


def hold(addr, n, state):
    sockets = []
    for i in range(n):
        source = f"127.{1 + i // 62500}.{(i // 250) % 250}.{1 + i % 250}"
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.bind((source, 0))
        s.settimeout(10)
        s.connect(addr)
        if state == "one byte":
            s.sendall(b"G")
        elif state == "keep-alive":
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        sockets.append(s)
    if state == "keep-alive":
        for s in sockets:
            got = b""
            while b"\r\n\r\n" not in got:
                got += s.recv(4096)
    return sockets


def measure(binary, n, state):
    server = Server(binary, n)
    try:
        for _ in range(50):
            request(server.addr)
        before = settle(server)
        p50_0, max_0 = latency(server.addr)
        sockets = hold(server.addr, n, state)
        time.sleep(1)
        after = settle(server)
        p50, worst = latency(server.addr)
        for s in sockets:
            s.close()
        return before, after, (p50_0, max_0), (p50, worst)
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True)
    parser.add_argument("--baseline-bin")
    parser.add_argument("--n", type=int, default=10_000)
    args = parser.parse_args()
    raise_nofile()
    builds = [("baseline", args.baseline_bin), ("this build", args.bin)] if args.baseline_bin else [("this build", args.bin)]
    print(f"| build | state | RSS before | RSS with {args.n:,} | KiB per connection | /healthz p50 / max before | with them |")
    print("|---|---|---|---|---|---|---|")
    for state in ["silent", "one byte", "keep-alive"]:
        for label, binary in builds:
            before, after, (p0, m0), (p1, m1) = measure(os.path.abspath(binary), args.n, state)
            per = (after - before) / args.n
            print(f"| {label} | {state} | {before / 1024:.0f} MiB | {after / 1024:.0f} MiB | {per:.1f} | "
                  f"{p0:.2f} / {m0:.1f} ms | {p1:.2f} / {m1:.1f} ms |", flush=True)


if __name__ == "__main__":
    main()
