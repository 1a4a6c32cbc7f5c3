#!/usr/bin/env bash
# Reproduces every table of BENCHMARKS.md with one command: about 45 minutes
# on 2 cores; ASWAN_BENCH_FULL=1 adds the opt-in long runs (the 100k-per-tenant
# centroid vectors, ~1 h, and the million-tenant database, ~30 min).
# ASWAN_BENCH_BASELINE=path/to/older/aswan measures that build cell by cell
# beside this one in the load run.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --locked
cargo build --release --locked --example fake_vendor
python3 bench/load.py --duration 5 --concurrency 8,16,64 ${ASWAN_BENCH_BASELINE:+--baseline-bin "$ASWAN_BENCH_BASELINE"} \
  --out bench/results/load.json
python3 bench/report.py bench/results/load.json
python3 bench/load.py --soak 900 --out bench/results/load.json
bench/vector.sh
bench/vector_titles.sh | tee bench/results/vector-titles.md
if [ "${ASWAN_BENCH_FULL:-0}" = 1 ]; then
  ASWAN_BENCH_PER_TENANT=100000 bench/vector.sh | tee bench/results/vector-100k.md
  python3 bench/tenants.py --tenants 1000000 --users 100000
else
  python3 bench/tenants.py --tenants 100000 --users 10000 --sqlite-tenants 10000 --out bench/results/tenants-small.json
fi
cargo bench --bench micro
./target/release/aswan eval
./target/release/aswan eval --json > bench/results/eval.json
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
python3 bench/profile_list.py --backend sqlite
python3 bench/footprint.py
python3 bench/connections.py --bin target/release/aswan
