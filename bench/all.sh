#!/usr/bin/env bash
# Reproduces every table of BENCHMARKS.md (about 30 minutes on 2 cores; the
# 100k-per-tenant vector rows take ~1 h more: ASWAN_BENCH_PER_TENANT=100000 bench/vector.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --locked
python3 bench/load.py --duration 5 --concurrency 1,16,64 --out bench/results/load.json
python3 bench/report.py bench/results/load.json
python3 bench/load.py --soak 300 --out bench/results/load.json
bench/vector.sh
cargo bench --bench micro
./target/release/aswan eval
./target/release/aswan eval --json > bench/results/eval.json
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
python3 bench/profile_list.py --backend sqlite
