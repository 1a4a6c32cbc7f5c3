#!/usr/bin/env bash
# Vector search benchmark (benches/vector.rs) against a throwaway PostgreSQL.
#   bench/vector.sh                        # 10k todos per tenant x 10 tenants
#   ASWAN_BENCH_PER_TENANT=100000 bench/vector.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# A cluster of its own, so that a test run meanwhile cannot stop it.
export ASWAN_PG_RUN="$PWD/target/pg-bench"
eval "$(scripts/pg-test-cluster start)"
trap 'scripts/pg-test-cluster stop' EXIT
ASWAN_BENCH_PG="$ASWAN_TEST_DATABASE_URL" cargo bench --bench vector
