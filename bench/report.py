#!/usr/bin/env python3
"""Markdown tables from bench/load.py results: one run, or before vs after.

  python3 bench/report.py bench/results/load-after.json [bench/results/load-before.json]
"""
import json
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def index(run):
    out = {}
    for backend in run["results"]:
        for r in backend["rows"]:
            out[(backend["backend"], r["case"], r["conc"])] = r
    return out


def fmt(v, digits=2):
    return "–" if v is None else f"{v:.{digits}f}"


def main():
    after = load(sys.argv[1])
    before = index(load(sys.argv[2])) if len(sys.argv) > 2 else {}
    print(f"Run {after['when']}, {after['duration_s']} s per cell, {after['nproc']} cores.\n")
    for backend in after["results"]:
        name = backend["backend"]
        rows = backend["rows"]
        head = "| case | conc | req/s | p50 ms | p99 ms | server CPU µs/req | RSS MiB |"
        sep = "|---|---|---|---|---|---|---|"
        if before:
            head += " req/s before | p50 before |"
            sep += "---|---|"
        print(f"**{name}** (idle RSS {backend['idle_rss']} MiB, peak {backend['peak_rss']} MiB)\n")
        print(head)
        print(sep)
        pg = {r["conc"]: r["rps"] for r in rows if r["case"].startswith("pgbench")}
        for r in rows:
            line = (f"| {r['case']} | {r['conc']} | {r['rps']:.0f} | {fmt(r['p50'])} | {fmt(r['p99'])} | "
                    f"{fmt(r['cpu_us'], 0)} | {r['rss'] if r['rss'] is not None else '–'} |")
            if before:
                b = before.get((name, r["case"], r["conc"]))
                line += f" {b['rps']:.0f} | {fmt(b['p50'])} |" if b else " – | – |"
            print(line)
        if pg:
            print()
            for conc, tps in sorted(pg.items()):
                srv = next(r["rps"] for r in rows if r["case"].startswith("GET /api/todos") and r["conc"] == conc)
                print(f"- c={conc}: server list {srv:.0f} req/s ÷ pgbench {tps:.0f} tx/s = **{srv / tps:.0%}**")
        print()


if __name__ == "__main__":
    main()
