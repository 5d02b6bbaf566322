#!/usr/bin/env bash
# Does training on ensemble-labelled text help the student? Two runs side by side, one thread
# each, identical but for the data, both continuing the shipped model:
#   A  runs/cont_ud      the UD train splits
#   B  runs/cont_pseudo  the UD train splits + the pseudo-treebanks of scripts/ensemble_label.py
# Usage: scripts/ensemble_ablation.sh [MINUTES]   (needs runs/pseudo; builds runs/ud_plus)
# Dev scores: the last dev_macro lines of runs/cont_{ud,pseudo}/metrics.jsonl.
set -eu
MIN=${1:-38}
mkdir -p runs/ud_plus
for d in ../shared/ud/*/ runs/pseudo/*/; do  # real folders of links: glob does not enter linked folders
  n=$(basename "$d")
  mkdir -p "runs/ud_plus/$n"
  for f in "$d"*; do ln -sfn "$(realpath "$f")" "runs/ud_plus/$n/"; done
done
cp ../shared/ud/MANIFEST.tsv runs/ud_plus/
common=(--init polytag/models/default --epochs 3 --batch-size 32 --lr 1e-4 --warmup 0.02 --dropout 0.2
        --wordpiece-dropout 0.1 --sampling-temperature 2 --max-minutes "$MIN" --threads 1 --checkpoint-every 500
        --seed 5)
OMP_NUM_THREADS=1 nohup polytag train ../shared/ud -o runs/cont_ud "${common[@]}" > runs/cont_ud.log 2>&1 &
OMP_NUM_THREADS=1 nohup polytag train runs/ud_plus -o runs/cont_pseudo "${common[@]}" > runs/cont_pseudo.log 2>&1 &
wait
