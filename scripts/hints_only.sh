#!/usr/bin/env bash
# Treebank hints for the shipped model without changing it: only the hint vectors train (row 0,
# "no hint", stays zero and every other weight stays), so without a hint it tags exactly as
# shipped. Then export and dev scores with and without hints.
# Usage: scripts/hints_only.sh [MINUTES]   Results: runs/hints_only.dev_{hint,nohint}.json
set -eu
MIN=${1:-35}
mkdir -p runs
OMP_NUM_THREADS=2 polytag train ../shared/ud -o runs/hints_only --init polytag/models/default --hints-only \
  --treebank-hint-dropout 0 --epochs 3 --batch-size 32 --lr 2e-3 --warmup 0.02 --sampling-temperature 2 \
  --max-minutes "$MIN" --threads 2 --checkpoint-every 500 --seed 5 > runs/hints_only.log 2>&1
polytag export --model runs/hints_only > runs/hints_only.export.log
dev=(../shared/ud/*/*-ud-dev.conllu.xz)
polytag evaluate "${dev[@]}" --model runs/hints_only --json runs/hints_only.dev_nohint.json | tail -1
polytag evaluate "${dev[@]}" --model runs/hints_only --treebank auto --json runs/hints_only.dev_hint.json | tail -1
