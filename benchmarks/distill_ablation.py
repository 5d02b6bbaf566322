"""The distillation ablation (issue 3): teacher vs distilled student vs undistilled student.

    python benchmarks/distill_ablation.py run STAGE [STAGE ...]   # runs stages (in parallel if several)
    python benchmarks/distill_ablation.py report                  # evaluates, writes docs/results/distill_ablation.json
    python benchmarks/distill_ablation.py all                     # every stage in order, then report

Stages (each a `polytag` command with its own time budget; timings go to RUN/stages.json):

    corpus      unlabeled corpus: the train text of the selected treebanks (never dev)
    pretrain    MLM pretraining of the teacher encoder (bigger than the student) + its vocabulary
    teacher     fine-tune the pretrained encoder on the labeled treebanks
    baseline    undistilled student: MiniBERT from scratch, teacher vocabulary, labeled data only
    cache       teacher logits on the corpus, top-k fp16, cached to disk
    distill     student distilled from the cached teacher logits
    student     distilled student fine-tuned on the labeled data (same budget as baseline)

DISTILL_SCALE=cpu (default) is the reduced run done on this CPU; DISTILL_SCALE=gpu is the full
experiment (all treebanks, bert-base teacher, the paper's settings); GPU_COMMANDS spells it out.
Every command runs under `nice -n 19`; on the CPU with one torch thread per stage.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCALE = os.environ.get("DISTILL_SCALE", "cpu")  # cpu: the reduced run done here; gpu: the full experiment
RUN = Path(os.environ.get("DISTILL_RUN", ROOT / "runs" / ("distill_gpu" if SCALE == "gpu" else "distill")))
DATA = os.environ.get("DISTILL_DATA", str(ROOT.parent / "shared" / "ud"))
POLYTAG = [sys.executable, "-m", "polytag.cli"]
THREADS = os.environ.get("DISTILL_THREADS", "1")

LOW_RESOURCE = ["kk_ktb", "hy_armtdp", "lt_hse", "be_hse", "mr_ufal", "ta_ttb"]
if SCALE == "gpu":
    TREEBANKS: list[str] | None = None  # every treebank with a train split
else:
    # the six low-resource treebanks + related or mid-size languages (8 of these 14 have dev)
    TREEBANKS = LOW_RESOURCE + ["tr_imst", "te_mtg", "lv_lvtb", "ru_gsd", "uk_iu", "ur_udtb", "af_afribooms",
                                "hu_szeged"]
SELECT = ["--treebanks", ",".join(TREEBANKS)] if TREEBANKS else []
FINETUNE = ["--batch-size", "32", "--lr", "5e-4"]  # the same for both students (the fair budget)

if SCALE == "gpu":
    RUN_ARGS = ["--device", "cuda"]
    TEACHER_SIZE = ["--encoder", "bert-base"]
    PRETRAIN = ["--vocab-size", "32000", "--batch-size", "128", "--accumulate", "2", "--lr", "1e-4", "--epochs", "40",
                "--max-minutes", "480"]
    TEACHER = ["--epochs", "10", "--batch-size", "16", "--lr", "3e-5", "--max-minutes", "240"]
    FINETUNE_EPOCHS = "8"
    DISTILL = ["--temperature", "3", "--lr", "1e-4", "--batch-size", "256", "--epochs", "24", "--max-minutes", "480"]
    CACHE = []  # on the fly: the teacher runs on the GPU next to the student
else:
    RUN_ARGS = ["--threads", THREADS]
    TEACHER_SIZE = ["--encoder", "minibert", "--layers", "4", "--hidden", "384", "--heads", "6",
                    "--intermediate", "1536"]
    PRETRAIN = ["--vocab-size", "12000", "--batch-size", "32", "--lr", "3e-4", "--warmup", "0.05", "--epochs", "1000",
                "--max-minutes", "50", "--checkpoint-every", "200"]
    TEACHER = ["--epochs", "3", "--batch-size", "16", "--lr", "2e-4", "--max-minutes", "5"]
    FINETUNE_EPOCHS = "2"
    # batch 32 / lr 5e-4 (the supervised MiniBERT settings): the paper's 256 / 1e-4 assumes 24 epochs of a
    # large corpus; in a 20-minute CPU budget it would be a few hundred updates
    DISTILL = ["--temperature", "3", "--lr", "5e-4", "--batch-size", "32", "--epochs", "24", "--max-minutes", "4"]
    CACHE = ["--cache", f"{RUN}/teacher_cache"]

STAGES: dict[str, list[str]] = {
    "corpus_all": ["corpus", f"{RUN}/corpus_all", "--ud", DATA],  # only for the per-language counts
    "corpus": ["corpus", f"{RUN}/corpus", "--ud", DATA, *SELECT],
    "pretrain": ["pretrain", f"{RUN}/corpus", "-o", f"{RUN}/teacher_mlm", *TEACHER_SIZE, *PRETRAIN, *RUN_ARGS],
    "teacher": ["train", DATA, "-o", f"{RUN}/teacher", *SELECT, "--encoder", f"{RUN}/teacher_mlm", *TEACHER, *RUN_ARGS],
    "baseline": ["train", DATA, "-o", f"{RUN}/undistilled", *SELECT, "--encoder", "minibert",
                 "--tokenizer", f"{RUN}/teacher_mlm", "--epochs", FINETUNE_EPOCHS, *FINETUNE, "--max-minutes", "60",
                 *RUN_ARGS],
    "cache": ["distill", "--teacher", f"{RUN}/teacher", "--corpus", f"{RUN}/corpus", "-o", f"{RUN}/distilled_raw",
              *CACHE, "--top-k", "8", "--top-k-factored", "2", "--cache-only", *RUN_ARGS],
    "distill": ["distill", "--teacher", f"{RUN}/teacher", "--corpus", f"{RUN}/corpus", "-o", f"{RUN}/distilled_raw",
                "--student", "minibert", *CACHE, *DISTILL, *RUN_ARGS],
    "student": ["train", DATA, "-o", f"{RUN}/distilled", *SELECT, "--init", f"{RUN}/distilled_raw",
                "--epochs", FINETUNE_EPOCHS, *FINETUNE, "--max-minutes", "60", *RUN_ARGS],
}
if not CACHE:
    del STAGES["cache"]
NOTES = [
    "The teacher is not mBERT: no pretrained checkpoint exists offline, so it is a 4-layer, 384-wide BERT "
    "MLM-pretrained here on the same train text for the time budget of the pretrain stage; it is fine-tuned with "
    "lr 2e-4 (not the paper's 3e-5, which suits a well-pretrained mBERT, not a briefly pretrained encoder).",
    "The unlabeled corpus is the train text of the same 14 treebanks (no other text exists offline), so "
    "distillation adds soft targets on every wordpiece but no new sentences; the paper's gain comes largely "
    "from a large unlabeled corpus.",
    "Both students have the same architecture (MiniBERT 3x256, the teacher's vocabulary), the same labeled "
    "data and the same fine-tuning settings and epochs; the distilled one additionally had the distill stage.",
    "Distillation here uses batch 32 and lr 5e-4 (the supervised MiniBERT settings) instead of the paper's "
    "256 / 1e-4, which assume 24 epochs of a large corpus: in a few CPU minutes 256 / 1e-4 would be a few "
    "dozen updates. The teacher logits are cached (top-8 per wordpiece for UPOS and bundles, top-2 per "
    "feature for the factored head, fp16, remainder on an 'other' bucket).",
    "Budgets were cut to what the end of the session allowed: MLM pretraining 50 min (1 thread, CPU shared "
    "with another training job), teacher fine-tuning 5 min, distillation 4 min, each student 2 epochs of "
    "fine-tuning; the teacher is therefore weak, and so is what it can pass on.",
    "One seed per model, no repeats: differences of about a point are within what a different seed can give. "
    "The distilled student also had the 4-minute distillation stage on top of the same fine-tuning, so it "
    "saw more updates in all; the comparison isolates 'distill, then fine-tune' vs 'fine-tune only'.",
    "kk_ktb and hy_armtdp have no dev split in ../shared/ud, so the low-resource macro covers the other four.",
]
ORDER = ["corpus_all", "corpus", "pretrain", "teacher", "baseline", "cache", "distill", "student"]

# The full experiment on a GPU: `DISTILL_SCALE=gpu python benchmarks/distill_ablation.py all`, i.e.:
GPU_COMMANDS = [
    "DISTILL_SCALE=gpu python benchmarks/distill_ablation.py all   # writes runs/distill_gpu/, then the report",
    "# which runs, in order (pretrain on several GPUs: torchrun --nproc_per_node N -m polytag.cli pretrain ...):",
    "polytag corpus runs/distill_gpu/corpus --ud ../shared/ud   # add --text LANG:FILE for any Wikipedia text",
    "polytag pretrain runs/distill_gpu/corpus -o runs/distill_gpu/teacher_mlm --encoder bert-base --vocab-size 32000 "
    "--batch-size 128 --accumulate 2 --lr 1e-4 --epochs 40 --max-minutes 480 --device cuda",
    "polytag train ../shared/ud -o runs/distill_gpu/teacher --encoder runs/distill_gpu/teacher_mlm --epochs 10 "
    "--batch-size 16 --lr 3e-5 --max-minutes 240 --device cuda   # or --encoder bert-base-multilingual-cased",
    "polytag train ../shared/ud -o runs/distill_gpu/undistilled --encoder minibert --tokenizer "
    "runs/distill_gpu/teacher_mlm --epochs 8 --batch-size 32 --lr 5e-4 --device cuda",
    "polytag distill --teacher runs/distill_gpu/teacher --corpus runs/distill_gpu/corpus -o "
    "runs/distill_gpu/distilled_raw --student minibert --temperature 3 --lr 1e-4 --batch-size 256 --epochs 24 "
    "--max-minutes 480 --device cuda",
    "polytag train ../shared/ud -o runs/distill_gpu/distilled --init runs/distill_gpu/distilled_raw --epochs 8 "
    "--batch-size 32 --lr 5e-4 --device cuda",
]


def command(stage: str) -> list[str]:
    return ["nice", "-n", "19", *POLYTAG, *STAGES[stage]]


def shown(stage: str) -> str:
    """The stage's command as a user would type it in the repository root."""
    return shlex.join(["polytag", *STAGES[stage]]).replace(f"{ROOT}/", "").replace(DATA, "../shared/ud")


def load_log() -> dict:
    path = RUN / "stages.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def save_log(log: dict) -> None:
    RUN.mkdir(parents=True, exist_ok=True)
    (RUN / "stages.json").write_text(json.dumps(log, indent=1), encoding="utf-8")


def run_stages(stages: list[str]) -> None:
    """Start the stages together (each on its own core with THREADS=1); wait for all."""
    RUN.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": THREADS, "PYTHONPATH": str(ROOT)}
    procs = {}
    for stage in stages:
        argv = command(stage)
        logf = open(RUN / f"{stage}.log", "w", encoding="utf-8")
        procs[stage] = (subprocess.Popen(argv, cwd=ROOT, env=env, stdout=logf, stderr=subprocess.STDOUT),
                        time.time(), datetime.now(timezone.utc).isoformat(timespec="seconds"), logf)
        print(f"started {stage}: {shlex.join(argv)}", file=sys.stderr)
    failed = []
    ended: dict[str, float] = {}
    while len(ended) < len(procs):  # poll, so each stage's wall time ends when it does
        for stage, (proc, *_rest) in procs.items():
            if stage not in ended and proc.poll() is not None:
                ended[stage] = time.time()
        time.sleep(1)
    for stage, (proc, t0, started, logf) in procs.items():
        rc = proc.wait()
        logf.close()
        log = load_log()
        log[stage] = {"command": shown(stage), "started": started,
                      "wall_seconds": round(ended[stage] - t0, 1), "returncode": rc,
                      "concurrent_with": [s for s in stages if s != stage]}
        save_log(log)
        print(f"{stage}: exit {rc} after {ended[stage] - t0:.0f}s", file=sys.stderr)
        if rc:
            failed.append(stage)
    if failed:
        sys.exit(f"failed: {', '.join(failed)} (see {RUN}/<stage>.log)")


MODELS = {"teacher": "teacher", "distilled": "distilled", "undistilled": "undistilled"}


def dev_predictions(folder: Path, dev_files: list[Path]) -> dict:
    """Per dev file: scores and the predictions (kept for teacher-student agreement)."""
    import torch  # noqa: PLC0415

    from polytag.core.conllu_io import read_conllu  # noqa: PLC0415
    from polytag.core.evaluate import file_key, score  # noqa: PLC0415
    from polytag.tagging import load as load_tagger  # noqa: PLC0415

    torch.set_num_threads(int(THREADS))
    tagger = load_tagger(folder, backend="torch")
    out = {}
    for path in dev_files:
        gold = list(read_conllu(path))
        upos, feats = tagger.predict([s.words for s in gold])
        out[file_key(path).replace("-ud-dev", "")] = {"score": score(gold, upos, feats), "upos": upos, "feats": feats}
    return out


def agreement(a: dict, b: dict) -> dict:
    from polytag.core.evaluate import feature_set  # noqa: PLC0415

    files = {}
    for key in a:
        pa, pb = a[key], b[key]
        n = sum(len(s) for s in pa["upos"])
        upos = sum(x == y for sa, sb in zip(pa["upos"], pb["upos"]) for x, y in zip(sa, sb))
        feats = sum(feature_set(x) == feature_set(y) for sa, sb in zip(pa["feats"], pb["feats"]) for x, y in zip(sa, sb))
        files[key] = {"words": n, "upos": round(100 * upos / n, 2), "ufeats": round(100 * feats / n, 2)}
    return {"files": files, "macro": macro_of(files)}


def macro_of(files: dict, keys: list[str] | None = None) -> dict:
    chosen = [files[k] for k in (keys if keys is not None else files) if k in files]
    if not chosen:
        return {"upos": None, "ufeats": None, "treebanks": 0}
    return {"upos": round(sum(f["upos"] for f in chosen) / len(chosen), 2),
            "ufeats": round(sum(f["ufeats"] for f in chosen) / len(chosen), 2), "treebanks": len(chosen)}


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def read_json_lines(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [json.loads(l) for l in lines if l.strip()]


def report() -> dict:
    from polytag.training.data import find_treebanks, select_treebanks  # noqa: PLC0415

    treebanks = select_treebanks(find_treebanks(DATA), ",".join(TREEBANKS) if TREEBANKS else None, "train")
    dev_files = [tb.dev for tb in treebanks if tb.dev]
    preds = {name: dev_predictions(RUN / folder, dev_files) for name, folder in MODELS.items()}
    per_model = {}
    for name, p in preds.items():
        files = {k: v["score"] for k, v in p.items()}
        per_model[name] = {"files": files, "macro": macro_of(files), "macro_low_resource": macro_of(files, LOW_RESOURCE)}
    agree = {"distilled_vs_teacher": agreement(preds["teacher"], preds["distilled"]),
             "undistilled_vs_teacher": agreement(preds["teacher"], preds["undistilled"])}
    for a in agree.values():
        a["macro_low_resource"] = macro_of(a["files"], LOW_RESOURCE)

    def delta(x: str, y: str, which: str) -> dict:
        return {m: round(per_model[x][which][m] - per_model[y][which][m], 2) for m in ("upos", "ufeats")}

    stages = load_log()
    for stage, entry in stages.items():
        if stage in STAGES:
            entry["command"] = shown(stage)
    models = {}
    for name, folder in {**MODELS, "distilled_before_finetune": "distilled_raw"}.items():
        meta = read_json(RUN / folder / "metadata.json")
        models[name] = {k: meta.get(k) for k in ("parameters", "epoch", "steps", "training_seconds") if k in meta}
        if "distillation" in meta:
            d = meta["distillation"]
            models[name].update({k: d[k] for k in ("steps", "epochs_done", "loss", "seconds", "cache_seconds")})
    mlm = RUN / "teacher_mlm"
    mlm_config = read_json(mlm / "config.json")
    models["teacher_mlm"] = {
        "pretrain_state": read_json(mlm / "checkpoint" / "state.json"),
        "first_logged": read_json_lines(mlm / "metrics.jsonl")[:1],
        "last_logged": read_json_lines(mlm / "metrics.jsonl")[-1:],
        "encoder": {k: mlm_config.get(k) for k in ("num_hidden_layers", "hidden_size", "num_attention_heads",
                                                   "intermediate_size", "vocab_size")},
    }
    corpus = read_json(RUN / "corpus" / "manifest.json")
    corpus_all = read_json(RUN / "corpus_all" / "manifest.json")
    data = {
        "command": "python benchmarks/distill_ablation.py all  (stages run as listed under stages; "
                   "then python benchmarks/distill_ablation.py report)",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "scale": {
            "kind": "full GPU run" if SCALE == "gpu" else
                    "reduced CPU run (no GPU in this session): every stage on 1 thread of a 2-core CPU, niced, "
                    "sharing the CPU with another training job for part of the time",
            "treebanks": TREEBANKS or "all",
            "low_resource": LOW_RESOURCE,
            "low_resource_with_dev": [t for t in LOW_RESOURCE if any(tb.id == t and tb.dev for tb in treebanks)],
            "corpus": {"sentences": corpus.get("total", {}).get("sentences"), "words": corpus.get("total", {}).get("words"),
                       "note": "unlabeled corpus = the train text of the same treebanks (never dev)"},
            "finetune_epochs_students": int(FINETUNE_EPOCHS),
        },
        "notes": NOTES,
        "stages": stages,
        "models": models,
        "results": per_model,
        "deltas": {
            "distilled_minus_undistilled": delta("distilled", "undistilled", "macro"),
            "distilled_minus_undistilled_low_resource": delta("distilled", "undistilled", "macro_low_resource"),
            "distilled_minus_teacher": delta("distilled", "teacher", "macro"),
        },
        "agreement_on_dev": agree,
        "corpus_from_all_treebanks": {
            "command": "polytag corpus runs/distill/corpus_all --ud ../shared/ud  (train text only)",
            "languages": {l: {"sentences": v["sentences"], "words": v["words"]}
                          for l, v in corpus_all.get("languages", {}).items()},
            "total": corpus_all.get("total"),
        },
        "gpu_commands": GPU_COMMANDS,
    }
    out = ROOT / "docs" / "results" / "distill_ablation.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
    return data


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "report", "all"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "run":
        run_stages(argv[1:])
    elif argv[0] == "all":
        for stage in ORDER:
            if stage in STAGES:
                run_stages([stage])
        report()
    else:
        report()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
