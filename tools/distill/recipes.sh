#!/usr/bin/env bash
# Measures every step of the built-in model's recipe (BENCHMARKS.md,
# "Embedded model quality"): distils each variant from the same cached
# teacher outputs, runs `aswan eval` on it, and prints a Markdown table:
# recall@3, MdAPE and coverage on the dev and test splits, recall@3 on the
# first set (the first 164 dev titles, the set the issue's numbers were
# measured on), model size and embedding latency. Also the teacher itself.
# Needs a release build of aswan (cargo build --release). ~10 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
inputs=$(tools/distill/inputs.sh target/distill-inputs | tail -1)
work=target/distill-recipes
mkdir -p "$work"
awk -F'\t' '$1 == "dev"' eval/tasks.tsv | head -164 | cut -f3-5 > "$work/first-set.tsv"
distill() {
    cargo run --release --quiet -p aswan-distill -- --from "$inputs/teacher" \
        --wordnet "$inputs/root/usr/share/wordnet" \
        --word-list "$inputs/root/usr/share/dict/american-english" \
        --cache target/distill-cache "$@" 2>/dev/null
}
row() {
    local label=$1
    shift
    distill --out "$work/model" "$@"
    EMBEDDING_MODEL_DIR="$work/model" ./target/release/aswan eval --json > "$work/eval.json"
    EMBEDDING_MODEL_DIR="$work/model" ./target/release/aswan eval --json --file "$work/first-set.tsv" > "$work/first.json"
    local mb
    mb=$(du -cb "$work/model/model.safetensors" "$work/model/tokenizer.json" | tail -1 | awk '{printf "%.1f", $1 / 1e6}')
    python3 - "$label" "$mb" "$work/eval.json" "$work/first.json" <<'PY'
import json, sys
label, mb, full, first = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3])), json.load(open(sys.argv[4]))
split = {s["split"]: s["methods"][0] for s in full["splits"]}
cells = lambda m: "%.3f | %.1f %% | %.0f %%" % (m["recall_at_3"], m["mdape"], m["coverage"] * 100)
print("| %s | %s | %s | %.3f | %s MB | %.1f µs |" % (
    label, cells(split["dev"]), cells(split["test"]), first["splits"][0]["methods"][0]["recall_at_3"],
    mb, full["latency"]["p50_us"]))
PY
}
echo "| recipe | dev recall@3 | dev MdAPE | dev coverage | test recall@3 | test MdAPE | test coverage | first set recall@3 | size | p50 per title |"
echo "|---|---|---|---|---|---|---|---|---|---|"
row "first recipe: Zipf-rank SIF, a = 1e-4" --frequencies zipf --sif 1e-4
row "SIF from WordNet word counts, a = 1e-4" --frequencies corpus --sif 1e-4
row "SIF from WordNet word counts, a = 1e-5" --frequencies corpus --sif 1e-5
row "Zipf-rank SIF, a = 5e-5" --frequencies zipf --sif 5e-5
row "… + whole words" --frequencies zipf --sif 5e-5 --words 35000
row "… linear map instead of whole words" --frequencies zipf --sif 5e-5 --map-sentences 40000
row "**whole words + linear map (shipped)**" --frequencies zipf --sif 5e-5 --words 35000 --map-sentences 40000
row "… + 40,000 task-like phrases in the map's training" --frequencies zipf --sif 5e-5 --words 35000 --map-sentences 40000 --phrases 40000
row "the same with WordNet-count SIF, a = 1e-4" --frequencies corpus --sif 1e-4 --words 35000 --map-sentences 40000
cargo run --release --quiet -p aswan-distill -- --from "$inputs/teacher" --out "$work/unused" \
    --teacher-eval eval/tasks.tsv 2>/dev/null | sed 's/^/    /'
