#!/usr/bin/env bash
# Vector search on realistic titles (benches/vector_titles.rs) against a
# throwaway PostgreSQL: the ef_search sweep at 100k todos per tenant (~10 min).
#   bench/vector_titles.sh
#   ASWAN_BENCH_PER_TENANT=10000 bench/vector_titles.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# A cluster of its own, so that a test run meanwhile cannot stop it.
export ASWAN_PG_RUN="$PWD/target/pg-bench"
eval "$(scripts/pg-test-cluster start)"
trap 'scripts/pg-test-cluster stop' EXIT
ASWAN_BENCH_PG="$ASWAN_TEST_DATABASE_URL" cargo bench --bench vector_titles
