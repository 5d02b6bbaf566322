"""Parity of the ONNX models with PyTorch fp32 on real dev files (issue 4): % of words with the
same UPOS / FEATS, and the dev UPOS / UFeats scores of each backend (macro over files).

    python benchmarks/onnx_parity.py --model DIR [--dev FILE ...] [--json docs/results/onnx_parity.json]

DIR must hold model.safetensors and the exported model.onnx (and model.fp32.onnx); default dev
files: every *-ud-dev.conllu.xz under /work/shared/ud (or ../shared/ud).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from polytag.core.conllu_io import read_conllu  # noqa: E402
from polytag.core.evaluate import file_key, macro, score  # noqa: E402
from polytag.tagging import load as load_tagger  # noqa: E402
from polytag.tagging.loading import load_onnx_parts  # noqa: E402
from polytag.tagging.onnx_backend import OnnxBackend  # noqa: E402
from polytag.tagging.tagger import Tagger  # noqa: E402
from polytag.training.export import agreement  # noqa: E402


def default_dev() -> list[Path]:
    for base in (Path("/work/shared/ud"), ROOT.parent / "shared" / "ud"):
        files = sorted(base.glob("*/*-ud-dev.conllu*"))
        if files:
            return files
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--dev", nargs="*", help="gold CoNLL-U files (default: all shared dev files)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    folder = Path(args.model)
    files = [Path(f) for f in args.dev] if args.dev else default_dev()
    tokenizer, labels, config = load_onnx_parts(folder)
    systems = {"torch_fp32": load_tagger(folder, backend="torch", threads=args.threads)}
    for name, file in (("onnx_fp32", "model.fp32.onnx"), ("onnx_int8", "model.onnx")):
        if (folder / file).exists():
            systems[name] = Tagger(OnnxBackend(folder, threads=args.threads, file=file), tokenizer, labels, config)
    scores = {name: {} for name in systems}
    agree: dict[str, dict] = {name: {} for name in systems if name != "torch_fp32"}
    seconds = {name: 0.0 for name in systems}
    for path in files:
        gold = list(read_conllu(path))
        words = [s.words for s in gold]
        preds = {}
        for name, tagger in systems.items():
            t0 = time.perf_counter()
            preds[name] = tagger.predict(words)
            seconds[name] += time.perf_counter() - t0
            scores[name][file_key(path)] = score(gold, *preds[name])
        for name in agree:
            agree[name][file_key(path)] = agreement(preds["torch_fp32"], preds[name])
        print(path.name, {n: (s[file_key(path)]["upos"], s[file_key(path)]["ufeats"]) for n, s in scores.items()},
              file=sys.stderr)
    total = {}
    for name, per in agree.items():
        n = sum(v["words"] for v in per.values())
        total[name] = {"words": n,
                       "upos": round(sum(v["upos"] * v["words"] for v in per.values()) / max(n, 1), 2),
                       "feats": round(sum(v["feats"] * v["words"] for v in per.values()) / max(n, 1), 2)}
    result = {
        "command": "python benchmarks/onnx_parity.py " + " ".join(sys.argv[1:]),
        "model": str(folder),
        "macro": {name: macro(per) for name, per in scores.items()},
        "agreement_with_torch_fp32": total,
        "agreement_per_file": agree,
        "scores_per_file": scores,
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
    }
    ref = result["macro"]["torch_fp32"]
    result["macro_drop_vs_torch_fp32"] = {
        name: {k: round(ref[k] - m[k], 2) for k in ("upos", "ufeats")} for name, m in result["macro"].items()
    }
    print(json.dumps({k: result[k] for k in ("macro", "agreement_with_torch_fp32", "macro_drop_vs_torch_fp32")},
                     indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
