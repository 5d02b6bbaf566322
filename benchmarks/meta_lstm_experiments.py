"""Meta-LSTM baseline experiments -> docs/results/meta_lstm.json (rendered by scripts/make_results.py).

Trains one Meta-LSTM per listed treebank and one multilingual Meta-LSTM on every treebank of DATA
(through the `polytag train` CLI, each under a time budget), then evaluates them on dev:

    nice -n 19 .venv/bin/python benchmarks/meta_lstm_experiments.py --data ../shared/ud \
        --treebanks en_ewt,pt_gsd,ko_gsd,en_gum,fr_sequoia,tr_imst,el_gdt \
        --per-language-minutes 6 --multilingual-minutes 30 --threads 1 \
        --out runs/meta_lstm --json docs/results/meta_lstm.json

Re-runnable: a model whose training has finished is skipped; an interrupted one is resumed from
its checkpoint. --skip-training only collects the scores of the models already in --out.
--longer-treebanks adds per-language models trained longer (--longer-minutes, in --longer-out), to see
how far the short runs are from convergence on the large treebanks. --joint-treebanks adds per-language
models trained with `--meta-training joint` (the summed loss trains all three models end to end) for
--per-language-minutes, in --joint-out, to compare with the paper's synchronized training.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shlex
import subprocess
import sys
from pathlib import Path

import torch

from polytag.core.conllu_io import read_conllu
from polytag.core.evaluate import evaluate_files, score
from polytag.nn.meta_lstm import META_PRESETS
from polytag.tagging import load as load_tagger
from polytag.tagging.tagger import Tagger
from polytag.training.data import find_treebanks

DEFAULT_TREEBANKS = "en_ewt,pt_gsd,ko_gsd,en_gum,fr_sequoia,tr_imst,el_gdt"
PAPER_NOTE = ("The paper's Table 8 Meta-LSTM column is not shown: run with --paper ../shared/paper "
              "(its table8_upos_f1.tsv) to add it.")


def paper_meta_lstm_upos(paper: Path) -> dict[str, float]:
    """Table 8's (per-language) Meta-LSTM UPOS F1 per treebank, from the paper folder's TSV."""
    path = Path(paper) / "table8_upos_f1.tsv"
    if not path.is_file():
        sys.exit(f"error: {path}: no such file (the paper folder holds table8_upos_f1.tsv)")
    with open(path, encoding="utf-8") as f:
        return {row["treebank"]: float(row["Meta-LSTM"]) for row in csv.DictReader(f, delimiter="\t")
                if row.get("Meta-LSTM")}


def train_command(args, treebank: str | None, minutes: float, out: Path, training: str = "synchronized") -> list[str]:
    cmd = ["nice", "-n", "19", str(Path(sys.executable).parent / "polytag"), "train", args.data, "--arch", "meta-lstm"]
    cmd += ["--meta-training", training] if training != "synchronized" else []
    cmd += ["--treebanks", treebank] if treebank else []
    cmd += ["--encoder", args.encoder] if args.encoder else []
    cmd += ["--device", args.device] if args.device != "auto" else []
    return cmd + ["--epochs", str(args.epochs), "--threads", str(args.threads), "--max-minutes", f"{minutes:g}",
                  "--output", str(out)]


def shown(cmd: list[str], threads: int) -> str:
    """The command as recorded in the JSON: `polytag` instead of the venv path."""
    return f"OMP_NUM_THREADS={threads} " + shlex.join(["polytag" if c.endswith("/polytag") else c for c in cmd])


def finished(folder: Path) -> bool:
    """metadata.json is written at every best epoch; training is over when the last end-of-epoch
    record (the metrics.jsonl lines without "loss") reached the folder's time budget or last epoch
    (train_config.json: `--resume` keeps the budget the model was started with)."""
    if not all((folder / f).exists() for f in ("metadata.json", "metrics.jsonl", "train_config.json")):
        return False
    cfg = json.loads((folder / "train_config.json").read_text(encoding="utf-8"))
    ends = [r for r in map(json.loads, (folder / "metrics.jsonl").read_text().splitlines()) if "loss" not in r]
    return bool(ends) and (ends[-1]["seconds"] >= 60 * (cfg["max_minutes"] or float("inf"))
                           or ends[-1]["epoch"] >= cfg["epochs"])


def train(args, treebank: str | None, minutes: float, out: Path, training: str = "synchronized") -> None:
    if finished(out):
        print(f"{out}: finished, skipped", flush=True)
        return
    cmd = train_command(args, treebank, minutes, out, training)
    cmd += ["--resume"] if (out / "checkpoint" / "state.pt").exists() else []
    print(shown(cmd, args.threads), flush=True)
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})


def submodel_upos(tagger: Tagger, dev: Path) -> dict[str, float]:
    """Dev UPOS of the meta model and of its character and word sub-models (their own heads)."""
    original, net, gold = tagger.backend, tagger.backend.model, list(read_conllu(dev))
    result = {}
    for part in ("meta", "char", "word"):
        def backend(batch, heads, part=part):
            with torch.inference_mode():
                out = net(**{k: torch.as_tensor(v) for k, v in batch.items()}, parts=True)
            return {h: (out if part == "meta" else out[part])[h].float().numpy() for h in heads}
        tagger.backend = backend
        logits = tagger.logits([s.words for s in gold], ("upos",))
        upos = [tagger.labels.decode_upos(p["upos"].argmax(-1)) for p in logits]
        result[part] = score(gold, upos, [s.feats for s in gold])["upos"]
    tagger.backend = original
    return result


def model_info(folder: Path) -> tuple[dict, dict, dict]:
    """-> (size, data, training progress and dev head comparison; metadata.json; config.json)."""
    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    cfg = meta["train_config"]
    sentences = sum(sum(1 for _ in read_conllu(tb["train"])) for tb in meta["treebanks"].values())
    steps_per_epoch = math.ceil(math.ceil(sentences / cfg["batch_size"]) / cfg["accumulate"])  # as train.py
    return ({"parameters": meta["parameters"], "train_words": meta["train_words"], "steps": meta["steps"],
             "epochs_seen": round(meta["steps"] / steps_per_epoch, 2),
             "training_minutes": round(meta["training_seconds"] / 60, 1), "morph_decode": config["morph_decode"],
             "dev_ufeats_by_head": {h: r["macro"]["ufeats"] for h, r in meta["dev"].items()}}, meta, config)


def evaluate_per_language(names: list[str], out: Path, found: dict, threads: int) -> tuple[dict, list[dict]]:
    """Dev scores, training progress and sub-model UPOS of the per-language models out/TB -> (rows, metadata)."""
    rows, metas = {}, []
    for tb in names:
        if found[tb].dev is None:
            print(f"{tb}: no dev split, left out", file=sys.stderr)
            continue
        tagger = load_tagger(out / tb, backend="torch", threads=threads)
        info, meta, _ = model_info(out / tb)
        scores = evaluate_files(tagger, [found[tb].dev])["files"].popitem()[1]
        rows[tb] = {**scores, **info, "dev_upos_by_submodel": submodel_upos(tagger, found[tb].dev)}
        metas.append(meta)
        print(tb, json.dumps(rows[tb]), flush=True)
    return rows, metas


def budget(metas: list[dict], given: float, flag: str) -> float:
    """The time budget the models were trained with (`--resume` keeps a model's first one)."""
    minutes = {m["train_config"]["max_minutes"] for m in metas}
    if metas and minutes != {given}:
        print(f"{flag} {given:g}, but the models were trained with {sorted(minutes)} minutes", file=sys.stderr)
    return minutes.pop() if len(minutes) == 1 else given


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="../shared/ud")
    p.add_argument("--treebanks", default=DEFAULT_TREEBANKS, help="per-language models (comma-separated)")
    p.add_argument("--per-language-minutes", type=float, default=6)
    p.add_argument("--multilingual-minutes", type=float, default=30)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--epochs", type=int, default=100, help="upper bound; the time budget ends training")
    p.add_argument("--encoder", help="meta-lstm size preset (default: the CLI's, meta-lstm; tiny for smoke runs)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="passed to polytag train")
    p.add_argument("--out", default="runs/meta_lstm")
    p.add_argument("--json", default="docs/results/meta_lstm.json")
    p.add_argument("--skip-training", action="store_true", help="only evaluate the models in --out")
    p.add_argument("--longer-treebanks", default="", help="per-language models also trained --longer-minutes")
    p.add_argument("--longer-minutes", type=float, default=65)
    p.add_argument("--longer-out", default="runs/meta_lstm_long")
    p.add_argument("--joint-treebanks", default="",
                   help="per-language models also trained with --meta-training joint (--per-language-minutes)")
    p.add_argument("--joint-out", default="runs/meta_lstm_joint")
    p.add_argument("--paper", type=Path, help="the paper folder: add Table 8's Meta-LSTM UPOS beside ours")
    p.add_argument("--paper-only", action="store_true",
                   help="only (re)write the paper's column into an existing --json (no training or evaluation)")
    argv = sys.argv[1:] if argv is None else argv
    args = p.parse_args(argv)
    if args.paper_only:
        if not args.paper or not Path(args.json).is_file():
            sys.exit("error: --paper-only needs --paper and an existing --json")
        data = json.loads(Path(args.json).read_text(encoding="utf-8"))
        data["paper_table8_upos"] = paper_meta_lstm_upos(args.paper)
        data.pop("paper_table8_note", None)
        data["paper_command"] = shlex.join(["python", "benchmarks/meta_lstm_experiments.py", "--paper", str(args.paper),
                                            "--paper-only", "--json", args.json])
        return write_result(args.json, data)
    out, found = Path(args.out), find_treebanks(args.data)
    names, longer_names, joint_names = (
        [t.strip() for t in spec.split(",") if t.strip()]
        for spec in (args.treebanks, args.longer_treebanks, args.joint_treebanks))
    longer_out, joint_out = Path(args.longer_out), Path(args.joint_out)
    torch.set_num_threads(args.threads)
    if not args.skip_training:
        for tb in names:
            train(args, tb, args.per_language_minutes, out / tb)
        train(args, None, args.multilingual_minutes, out / "multi")
        for tb in longer_names:
            train(args, tb, args.longer_minutes, longer_out / tb)
        for tb in joint_names:
            train(args, tb, args.per_language_minutes, joint_out / tb, "joint")

    per_language, metas = evaluate_per_language(names, out, found, args.threads)
    longer, longer_metas = evaluate_per_language(longer_names, longer_out, found, args.threads)
    joint, joint_metas = evaluate_per_language(joint_names, joint_out, found, args.threads)
    multi, meta, config = model_info(out / "multi")
    devs = {tb_id: tb.dev for tb_id, tb in sorted(found.items()) if tb.dev and tb_id in meta["treebanks"]}
    result = evaluate_files(load_tagger(out / "multi", backend="torch", threads=args.threads), list(devs.values()))
    files = dict(zip(devs, result["files"].values()))  # keyed by treebank id, as per_language

    args.per_language_minutes = budget(metas, args.per_language_minutes, "--per-language-minutes")
    args.multilingual_minutes = budget([meta], args.multilingual_minutes, "--multilingual-minutes")
    args.longer_minutes = budget(longer_metas, args.longer_minutes, "--longer-minutes")
    joint_minutes = budget(joint_metas, args.per_language_minutes, "--per-language-minutes (joint runs)")
    s = sizes = {k: v for k, v in config["encoder_config"].items() if k in META_PRESETS["meta-lstm"]}
    cfg, preset = meta["train_config"], config["encoder"]
    device = "CPU" if meta["device"] == "cpu" else meta["device"]
    params = [r["parameters"] for r in per_language.values()]
    seen = [r["epochs_seen"] for r in per_language.values()]
    epochs = ((f"{min(seen):g}-{max(seen):g} epochs (per-language models), " if seen else "")
              + f"{multi['epochs_seen']:g} epochs (multilingual model)")
    old = json.loads(Path(args.json).read_text(encoding="utf-8")) if Path(args.json).exists() else {}
    data = {
        "command": shlex.join(["python", "benchmarks/meta_lstm_experiments.py", *argv]),
        "description": {
            "architecture": f"sentence-level character BiLSTM ({s['char_layers']} layers x {s['char_hidden']} per "
            f"direction, char embeddings {s['char_dim']}; a word = forward+backward states at its first and last "
            f"character, words cut to their first and last {s['max_word_chars'] // 2} characters) + word BiLSTM "
            f"({s['word_layers']} x {s['word_hidden']}, learned word embeddings {s['word_dim']}: lowercased words seen "
            f"at least twice, no pretrained vectors) + meta BiLSTM ({s['meta_layers']} x {s['meta_hidden']}) over "
            f"both; MLP {s['mlp']} (ELU) and UPOS/bundle/factored heads on each of the three; dropout "
            f"{cfg['dropout']} ({s['char_dropout']} on char embeddings); " + (
                "sizes from the config.json of the authors' code (google/meta_tagger)" if preset == "meta-lstm"
                else f"size preset {preset!r} (a smoke run, not the paper's sizes)"),
            "training": f"synchronized (the paper's): one AdamW (lr {cfg['lr']:g}, warmup {cfg['warmup']:g}, linear decay over the time "
            f"budget, clip {cfg['clip']:g}, weight decay {cfg['weight_decay']:g}), loss = sum of the char, word and "
            "meta models' tagging_loss (UPOS + bundle + factored), the meta model's inputs detached, so the char and "
            "word models learn from their own loss only (--meta-training joint, compared below where run, lets the "
            "meta loss train them too); batches of "
            f"{cfg['batch_size']} sentences; predictions from the meta heads; the morphology head (bundle/factored) "
            "picked by dev; steps, epochs_seen and training_minutes are those of the saved (best on dev) model; "
            "dev_upos_by_submodel: each of the three models' own UPOS head on dev",
            "scale": f"reduced, {device} only, {args.threads} thread{'s' if args.threads > 1 else ''} at nice 19: "
            f"per-language models {args.per_language_minutes:g} minutes of training each, the multilingual model (all "
            f"{len(meta['treebanks'])} treebanks) {args.multilingual_minutes:g} minutes; their saved (best on dev) "
            f"checkpoints had seen {epochs} (epochs_seen in the JSON), short of convergence, so these are lower "
            "bounds for the architecture, not a reproduction of the paper's figures",
            "parameters": (f"per-language {min(params):,}-{max(params):,}; " if params else "")
            + f"multilingual {multi['parameters']:,} (most in word embeddings and bundle heads)",
        },
        "commands": {"per_language": shown(train_command(args, "TB", args.per_language_minutes, out / "TB"),
                                           args.threads),
                     "multilingual": shown(train_command(args, None, args.multilingual_minutes, out / "multi"),
                                           args.threads)},
        "per_language_minutes": args.per_language_minutes,
        "sizes": sizes,
        "per_language": per_language,
        "multilingual": {"files": files, "macro": result["macro"], **multi},
        **({"longer_runs": {"minutes": args.longer_minutes, "per_language": longer,
                            "command": shown(train_command(args, "TB", args.longer_minutes, longer_out / "TB"),
                                             args.threads)}} if longer else {}),
        **({"joint_training": {"minutes": joint_minutes, "per_language": joint,
                               "command": shown(train_command(args, "TB", joint_minutes, joint_out / "TB", "joint"),
                                                args.threads)}} if joint else {}),
        "paper_table8_upos": paper_meta_lstm_upos(args.paper) if args.paper else old.get("paper_table8_upos"),
        **({} if args.paper or old.get("paper_table8_upos") else {"paper_table8_note": PAPER_NOTE}),
        **({"paper_command": old["paper_command"]} if not args.paper and old.get("paper_command") else {}),
    }
    return write_result(args.json, data)


def write_result(path: str, data: dict) -> int:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
