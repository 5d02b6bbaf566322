#!/usr/bin/env bash
# Everything docs/results.md reports about the default model, in order, on an idle machine:
#   scripts/measure_all.sh [RUN_DIR=runs/default] [DATA=../shared/ud]
# (the distillation ablation and the Meta-LSTM experiments have their own scripts in benchmarks/)
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/default}
DATA=${2:-../shared/ud}
PY=.venv/bin/python
export TOKENIZERS_PARALLELISM=false
.venv/bin/polytag export --model "$RUN"                      # int8 model.onnx + model.fp32.onnx beside fp32 torch weights
$PY benchmarks/onnx_parity.py --model "$RUN" --json docs/results/onnx_parity.json
$PY scripts/ship_default_model.py "$RUN" "$DATA"              # -> polytag/models/default, docs/results/default_model.json
$PY scripts/refresh_languages.py polytag/models/default "$DATA"  # language table in metadata.json and README.md
$PY benchmarks/tag_throughput.py
$PY benchmarks/tag_throughput.py --backend torch --json docs/results/tag_throughput_torch.json
$PY benchmarks/bench_speed.py
$PY scripts/make_results.py
