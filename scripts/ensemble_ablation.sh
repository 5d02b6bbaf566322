#!/usr/bin/env bash
# Does training on ensemble-labelled text help the student? Two runs side by side, one thread
# each, identical but for the data, both continuing the shipped model:
#   A  runs/cont_ud{SUFFIX}      the UD train splits
#   B  runs/cont_pseudo{SUFFIX}  the UD train splits + the pseudo-treebanks in PSEUDO
# Usage: scripts/ensemble_ablation.sh [MINUTES] [PSEUDO] [SUFFIX] [SOFT_T]
#   (PSEUDO: a folder of scripts/ensemble_label.py, default runs/pseudo; builds runs/ud_plus{SUFFIX})
# Dev scores: the last dev_macro lines of runs/cont_{ud,pseudo}{SUFFIX}/metrics.jsonl.
# With SOFT_T (temperatures, comma-separated), every run trains on the UD train splits + PSEUDO,
# and they differ in how they learn it:
#   A     runs/cont_hard{SUFFIX}     the pseudo-treebanks' labels (the pair's argmax)
#   B, …  runs/cont_soft{T}{SUFFIX}  the pair's probabilities beside them, --soft-temperature T
# (more than two runs share the two cores: the same minutes then buy each run fewer steps)
set -eu
MIN=${1:-38}
PSEUDO=${2:-runs/pseudo}
SUFFIX=${3:-}
SOFT_T=${4:-}
PLUS=runs/ud_plus$SUFFIX
mkdir -p "$PLUS"
for d in ../shared/ud/*/ "$PSEUDO"/*/; do  # real folders of links: glob does not enter linked folders
  n=$(basename "$d")
  mkdir -p "$PLUS/$n"
  for f in "$d"*; do ln -sfn "$(realpath "$f")" "$PLUS/$n/"; done
done
cp ../shared/ud/MANIFEST.tsv "$PLUS/"
common=(--init polytag/models/default --epochs 3 --batch-size 32 --lr 1e-4 --warmup 0.02 --dropout 0.2
        --wordpiece-dropout 0.1 --sampling-temperature 2 --max-minutes "$MIN" --threads 1 --checkpoint-every 500
        --seed 5)
if [ -n "$SOFT_T" ]; then
  OMP_NUM_THREADS=1 nohup polytag train "$PLUS" -o "runs/cont_hard$SUFFIX" "${common[@]}" > "runs/cont_hard$SUFFIX.log" 2>&1 &
  for t in ${SOFT_T//,/ }; do
    OMP_NUM_THREADS=1 nohup polytag train "$PLUS" -o "runs/cont_soft$t$SUFFIX" "${common[@]}" --soft-temperature "$t" \
      > "runs/cont_soft$t$SUFFIX.log" 2>&1 &
  done
else
  OMP_NUM_THREADS=1 nohup polytag train ../shared/ud -o "runs/cont_ud$SUFFIX" "${common[@]}" > "runs/cont_ud$SUFFIX.log" 2>&1 &
  OMP_NUM_THREADS=1 nohup polytag train "$PLUS" -o "runs/cont_pseudo$SUFFIX" "${common[@]}" > "runs/cont_pseudo$SUFFIX.log" 2>&1 &
fi
wait
