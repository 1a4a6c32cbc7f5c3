#!/usr/bin/env bash
# A vector search benchmark against a throwaway PostgreSQL of its own.
#   bench/vector.sh                        # benches/vector.rs: 10k todos per tenant x 10 tenants
#   ASWAN_BENCH_PER_TENANT=100000 bench/vector.sh
#   bench/vector.sh vector_titles          # benches/vector_titles.rs (bench/vector_titles.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
# A cluster of its own, so that a test run meanwhile cannot stop it.
export ASWAN_PG_RUN="$PWD/target/pg-bench"
eval "$(scripts/pg-test-cluster start)"
trap 'scripts/pg-test-cluster stop' EXIT
ASWAN_BENCH_PG="$ASWAN_TEST_DATABASE_URL" cargo bench --bench "${1:-vector}"
