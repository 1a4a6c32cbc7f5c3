#!/usr/bin/env bash
# Rebuilds the built-in model in models/minilm-l6-static with the recipe
# Aswan ships (one command, deterministic: two runs write the same bytes).
# The recipe's steps and what each is worth: BENCHMARKS.md, "Embedded model
# quality" (tools/distill/recipes.sh measures them).
set -euo pipefail
cd "$(dirname "$0")/../.."
inputs=$(tools/distill/inputs.sh target/distill-inputs | tail -1)
cargo run --release --quiet -p aswan-distill -- \
    --from "$inputs/teacher" \
    --wordnet "$inputs/root/usr/share/wordnet" \
    --word-list "$inputs/root/usr/share/dict/american-english" \
    --words 35000 --frequencies zipf --sif 5e-5 --map-sentences 40000 --epochs 30 \
    --cache target/distill-cache \
    --out models/minilm-l6-static "$@"
sha256sum models/minilm-l6-static/model.safetensors models/minilm-l6-static/tokenizer.json
