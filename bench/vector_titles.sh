#!/usr/bin/env bash
# Vector search on realistic titles (benches/vector_titles.rs): the ef_search
# sweep at 100k todos per tenant (~3 min).
#   bench/vector_titles.sh
#   ASWAN_BENCH_PER_TENANT=10000 bench/vector_titles.sh
exec "$(dirname "$0")/vector.sh" vector_titles
