"""Turn a trained model folder into the shipped default model and measure it.

    python scripts/ship_default_model.py runs/default ../shared/ud

1. copies the model folder into polytag/models/default with fp16 weights;
2. exports the int8 ONNX graph next to them (when `polytag export` is available);
3. evaluates every dev file of the data folder with the shipped model (default backend)
   and writes docs/results/default_model.json, which scripts/make_results.py renders.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from polytag.data import find_treebanks  # noqa: E402
from polytag.evaluate import evaluate_files  # noqa: E402
from polytag.model import count_parameters  # noqa: E402
from polytag.model_folder import load_model, save_model  # noqa: E402
from polytag.predict import Tagger  # noqa: E402

DEST = ROOT / "polytag" / "models" / "default"


def folder_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 2)


def main() -> int:
    source, data = Path(sys.argv[1]), Path(sys.argv[2])
    model, tokenizer, labels, config = load_model(source)
    metadata = json.loads((source / "metadata.json").read_text(encoding="utf-8"))
    if DEST.exists():
        shutil.rmtree(DEST)
    save_model(DEST, model, tokenizer, labels, metadata, half=True)
    export = subprocess.run([sys.executable, "-m", "polytag.cli", "export", "--model", str(DEST)],
                            capture_output=True, text=True)
    print("export:", "ok" if export.returncode == 0 else export.stderr.strip()[-500:], file=sys.stderr)

    dev_files = [tb.dev for tb in find_treebanks(data).values() if tb.dev]
    tagger = Tagger.load(DEST)
    started = time.time()
    evaluation = evaluate_files(tagger, sorted(dev_files))
    seconds = time.time() - started
    words = sum(f["words"] for f in evaluation["files"].values())
    result = {
        "command": f"python scripts/ship_default_model.py {source} {data}",
        "evaluation": evaluation,
        "model": {
            "encoder": f"{config.encoder} ({config.encoder_config.get('num_hidden_layers')} layers, "
                       f"hidden {config.encoder_config.get('hidden_size')}, "
                       f"vocab {config.encoder_config.get('vocab_size')})",
            "parameters": f"{count_parameters(model):,}",
            "morphology head used": config.morph_decode,
            "backend used for these scores": tagger.backend.name,
            "size on disk (MB, whole folder)": folder_mb(DEST),
            "trained on": f"{len(metadata['treebanks'])} treebanks, {metadata['train_words']:,} words",
            "training": f"{metadata['training_seconds'] / 60:.0f} min on {metadata['device']}, "
                        f"{metadata['steps']} steps, best epoch {metadata['epoch']}",
            "dev evaluation speed (words/s, incl. reading and scoring)": round(words / seconds),
        },
    }
    dev = metadata.get("dev") or {}
    if len(dev) > 1:
        result["head_comparison"] = {h: r["macro"]["ufeats"] for h, r in dev.items()}
    out = ROOT / "docs" / "results" / "default_model.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(evaluation["macro"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
