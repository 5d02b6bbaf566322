#!/usr/bin/env bash
# Does a treebank hint help (issue 19, item 4)? Two runs side by side, one thread each, identical
# but for the hint, both continuing the shipped model on the UD train splits:
#   A  runs/hint_off  no hint
#   B  runs/hint_on   a learned vector per treebank, dropped for half of the sentences
# Then both are exported and scored on dev: A as is, B with each file's hint and with none.
# Usage: scripts/treebank_hint_ablation.sh [MINUTES]   Results: runs/hint_*.dev*.json
set -eu
MIN=${1:-60}
mkdir -p runs
common=(--init polytag/models/default --epochs 3 --batch-size 32 --lr 1e-4 --warmup 0.02 --dropout 0.2
        --wordpiece-dropout 0.1 --sampling-temperature 2 --max-minutes "$MIN" --threads 1 --checkpoint-every 500
        --seed 5)
OMP_NUM_THREADS=1 nohup polytag train ../shared/ud -o runs/hint_off "${common[@]}" > runs/hint_off.log 2>&1 &
OMP_NUM_THREADS=1 nohup polytag train ../shared/ud -o runs/hint_on "${common[@]}" --treebank-hint-dropout 0.5 \
  > runs/hint_on.log 2>&1 &
wait
dev=(../shared/ud/*/*-ud-dev.conllu.xz)
for arm in off on; do polytag export --model runs/hint_$arm > runs/hint_$arm.export.log; done
polytag evaluate "${dev[@]}" --model runs/hint_off --json runs/hint_off.dev.json | tail -1
polytag evaluate "${dev[@]}" --model runs/hint_on --json runs/hint_on.dev_nohint.json | tail -1
polytag evaluate "${dev[@]}" --model runs/hint_on --treebank auto --json runs/hint_on.dev_hint.json | tail -1
