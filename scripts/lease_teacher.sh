#!/usr/bin/env bash
# Issue 19 on one lent GPU, in one call: fine-tune multilingual-e5-small (the first layers
# scripts/lease_pack.py packed, pruned vocabulary) on every treebank, then label the packed
# text with it and the shipped student together (ensemble_label.py: teacher's share 0.6 for UPOS,
# 0.5 for FEATS, as benchmarks/ensemble_check.py chose for the CPU teacher). Back come the
# labelled text (pseudo-treebanks for `polytag train`, as the CPU samples were), the teacher's
# dev scores and the logs. The teacher itself stays there: with its embedding it is ~100 MB.
#
#   python scripts/lease_pack.py ../shared/ud ../shared/text          # here, once: lease/
#   run(command="bash scripts/lease_teacher.sh lease $OUT 4", carry=["lease"], timeout_s=600)
# then here: mkdir -p runs/lease_back; cat <files_at>/pseudo.tar.xz* | tar -xJf - -C runs/lease_back
# (the parts, if it was split, join in name order), and train the student on UD + that text
# against UD alone at the same budget: scripts/ensemble_ablation.sh 45 runs/lease_back/pseudo _gpu
# Dry run on this CPU, tiny: DEVICE=cpu TREEBANKS=mr_ufal,te_mtg bash scripts/lease_teacher.sh LEASE OUT 0.2
# (LEASE packed with --per-language 5 to keep the labelling short).
#
# Timing for MINUTES=4 on one GPU: import ~0.5 min, training 4 (a hard stop 2 minutes after),
# dev scoring, labelling ~3 (segmenting is on the CPU), packing: under the command's 10 minutes.
set -u -o pipefail
LEASE=${1:?lease folder}
OUT=${2:?output folder}
MINUTES=${3:-4}
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}
WORK=${WORK:-/tmp/lease_work}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$WORK" "$OUT"
start=$SECONDS
say() { echo "[$((SECONDS - start)) s] $*" | tee -a "$OUT/lease.log"; }

say "$($PY -c 'import sys, torch, transformers; print(sys.version.split()[0], torch.__version__,
  transformers.__version__, "cuda" if torch.cuda.is_available() else "no cuda")' 2>&1)"
$PY -m polytag.cli import-encoder --src "$LEASE/e5.bin" -o "$WORK/e5" >> "$OUT/lease.log" 2>&1 \
  || { say "import-encoder failed"; exit 1; }
say "encoder imported"

LIMIT=$($PY -c "print(int(float('$MINUTES') * 60 + 120))")
# shellcheck disable=SC2086 # TREEBANKS: an optional list for the dry run
timeout -s INT "$LIMIT" $PY -m polytag.cli train "$LEASE/ud" -o "$WORK/teacher" --encoder "$WORK/e5" \
  --device "$DEVICE" --lr 5e-5 --head-lr-scale 20 --batch-size 32 --warmup 0.05 --sampling-temperature 2 \
  --word-pooling first+last --epochs 50 --eval-every 1000 --max-minutes "$MINUTES" --checkpoint-every 1000000 \
  --seed 1 ${TREEBANKS:+--treebanks $TREEBANKS} > "$OUT/teacher.log" 2>&1
say "teacher trained: exit $?"
cp "$WORK/teacher/metadata.json" "$OUT/teacher_metadata.json" 2> /dev/null || { say "no teacher model"; exit 1; }

$PY scripts/ensemble_label.py "$LEASE/text" "$WORK/pseudo" --teacher "$WORK/teacher" --device "$DEVICE" \
  --weight 0.6 --feats-weight 0.5 --per-language 1000000 --seed 0 --threads 8 > "$OUT/label.log" 2>&1
say "text labelled: exit $?, $(du -sh "$WORK/pseudo" | cut -f1)"

# at most 8 files of 16 MiB come back: one xz archive, cut in 15 MiB parts if need be; the soft
# targets stay behind (about 150 bytes a word: 300 MB for this text, five times what can come back)
tar -C "$WORK" --exclude='*.soft.npz' -cf - pseudo | xz -T0 -6 > "$WORK/pseudo.tar.xz"
if [ "$(stat -c %s "$WORK/pseudo.tar.xz")" -gt $((15 * 1024 * 1024)) ]; then
  split -b 15M -d "$WORK/pseudo.tar.xz" "$OUT/pseudo.tar.xz.part-"
else
  cp "$WORK/pseudo.tar.xz" "$OUT/"
fi
say "packed: $(ls "$OUT" | tr '\n' ' ')"
