#!/usr/bin/env bash
# Issue 2 on one lent GPU: three MiniBERT runs side by side (each is bound by Python overhead,
# not by the GPU, so three share it well), then their best models packed for the trip back.
#   scratch        from scratch, the shipped vocabulary, batch 256
#   scratch_chars  the same with the character CNN from step 0 (--word-chars 20)
#   continue       the shipped model trained on, batch 128
# Usage: scripts/gpu_train.sh DATA OUT [MINUTES]   (env: PY=python, EXTRA="extra train args",
#        INIT=model folder: instead, two continuations of it with seeds 4 and 5, to average)
# Dry run on a CPU: EXTRA="--device cpu --threads 1 --treebanks mr_ufal,te_mtg" scripts/gpu_train.sh data/ud /tmp/out 0.3
set -u
DATA=$1
OUT=$2
MINUTES=${3:-7.5}
PY=${PY:-python}
RUNS=runs/gpu
mkdir -p "$OUT" "$RUNS"
# a hard stop 90 s after the time budget (loading and encoding the data come before it, the
# last dev evaluation after it), so that packing always happens
LIMIT=$("$PY" -c "print(int(float('$MINUTES') * 60 + 90))")

common=(--morph-heads bundle --word-pooling first+last --sampling-temperature 2 --dropout 0.2
        --wordpiece-dropout 0.1 --save-half --max-minutes "$MINUTES" --checkpoint-every 2000)
# more epochs than the time allows, so the time budget sets the LR schedule
scratch=(--tokenizer polytag/models/default/tokenizer --epochs 150 --eval-every 15 --batch-size 256
         --lr 1e-3 --warmup 0.03)
continued=(--epochs 100 --batch-size 128 --warmup 0.02)

train() {  # name, args...
  local name=$1
  shift
  # shellcheck disable=SC2086 # EXTRA is a list of options
  timeout -s INT "$LIMIT" "$PY" -m polytag.cli train "$DATA" -o "$RUNS/$name" "${common[@]}" "$@" ${EXTRA:-} \
    > "$RUNS/$name.log" 2>&1
  echo "$name: exit $?"
}

if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv -l 30 > "$RUNS/gpu_utilisation.log" &
fi
pids=()
if [ -n "${INIT:-}" ]; then  # a short second lease: two more continuations of INIT, to average here
  for seed in 4 5; do
    train "continue$seed" --init "$INIT" "${continued[@]}" --eval-every 1000 --lr 1e-4 --seed "$seed" &
    pids+=($!)
  done
else
  train scratch "${scratch[@]}" --seed 1 &
  pids+=($!)
  train scratch_chars "${scratch[@]}" --word-chars 20 --seed 2 &
  pids+=($!)
  train continue --init polytag/models/default "${continued[@]}" --eval-every 8 --lr 2e-4 --seed 3 &
  pids+=($!)
fi
wait "${pids[@]}"
"$PY" scripts/pack_runs.py "$RUNS" "$OUT"
