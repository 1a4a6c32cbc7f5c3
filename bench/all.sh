#!/usr/bin/env bash
# Reproduces every table of BENCHMARKS.md: about 30 minutes on 2 cores, or
# ~1.5 h with ASWAN_BENCH_FULL=1 (adds the 100k-todos-per-tenant vector rows).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --locked
python3 bench/load.py --duration 5 --concurrency 1,16,64 --out bench/results/load.json
python3 bench/report.py bench/results/load.json
python3 bench/load.py --soak 300 --out bench/results/load.json
bench/vector.sh
if [ "${ASWAN_BENCH_FULL:-0}" = 1 ]; then
  ASWAN_BENCH_PER_TENANT=100000 bench/vector.sh | tee bench/results/vector-100k.md
fi
cargo bench --bench micro
./target/release/aswan eval
./target/release/aswan eval --json > bench/results/eval.json
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
python3 bench/profile_list.py --backend sqlite
python3 bench/footprint.py
