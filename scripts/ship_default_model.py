"""Turn a trained model folder into the shipped default model and measure it.

    python scripts/ship_default_model.py runs/default ../shared/ud [--weights int8|fp16]

1. copies the model folder into polytag/models/default (with the source's segmenter/, else the
   one shipped now), keeping only the morphology head the
   model decodes with (training picked it on dev), with int8 weights (one scale per row;
   `--weights fp16` to keep fp16);
2. exports the int8 ONNX graph next to them (no fp32 copy: the shipped folder stays small);
   learns the word lexicon of the data folder's train splits into lexicon.tsv.xz (`polytag
   lexicon`, forms seen at least --lexicon-min-count times; with --lexicon-text DIR, also the text
   lexicons of that machine-labelled text), and stores labels.json and the
   segmenter's mwt.json xz-compressed and its weights as fp16 (`compact_segmenter`), so that the
   folder stays under 20 MB (checked);
3. evaluates every dev file of the data folder with the shipped model, with the default
   backend (ONNX int8) and with PyTorch on the stored weights, and writes
   docs/results/default_model.json, which scripts/make_results.py renders; a model trained with
   treebank hints is scored both without a hint (what a user gets by default) and with each dev
   file's own treebank as the hint (`polytag evaluate --treebank auto`); both also with the
   network alone (`--no-lexicon`).

`--rescore DATA` only scores the shipped folder again; with --lexicon-text it first learns the
folder's word lexicon again (kept only if the folder stays under 20 MB); with --relearn-mwt, the
segmenter's MWT lexicon (`training.segmenter.learn_lexicon`; the network is kept); with
--relearn-guess, what the word lexicon's guess of a text's language and treebank reads besides the
forms (`core.word_lexicon.learn_guess`: the cue words, and how often each treebank's train
sentences end with punctuation and begin with a capital; the forms are kept); with --unfuse-onnx,
the graph's SkipLayerNormalization nodes become Add + LayerNormalization, as `polytag export` now
writes them (`training.export.unfuse_skip_layer_norm`: the same weights, a faster kernel).

Parity with the fp32 model is measured on the training output itself:
`polytag export --model runs/default && python benchmarks/onnx_parity.py --model runs/default`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from polytag.bench import cpu_label, machine  # noqa: E402
from polytag.core.conllu_io import read_conllu  # noqa: E402
from polytag.core.errors import InputError  # noqa: E402
from polytag.core.evaluate import AUTO_TREEBANK, evaluate_files  # noqa: E402
from polytag.core.folder import branch_stages, compact_labels, run_id, training_stages  # noqa: E402
from polytag.core.segmentation import mwt_path  # noqa: E402
from polytag.core.variants import VARIANTS_FILE, learn_fullwidth, learn_variants, save_variants  # noqa: E402
from polytag.core.word_lexicon import LEXICON_FILE, WordLexicon, learn_guess  # noqa: E402
from polytag.nn.heads import prune_bundle_head  # noqa: E402
from polytag.nn.model_io import load_model, save_model  # noqa: E402
from polytag.nn.transformer import count_parameters  # noqa: E402
from polytag.tagging import load as load_tagger  # noqa: E402
from polytag.training.data import feats_counts, find_treebanks  # noqa: E402
from polytag.training.export import unfuse_folder  # noqa: E402
from polytag.training.segmenter import compact_segmenter, learn_lexicon  # noqa: E402

DEST = ROOT / "polytag" / "models" / "default"


MAX_MB = 20  # the shipped folder's size limit (MiB, as folder_mb counts)


def folder_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 2)


def drop_unused_heads(model) -> None:
    """Keep the morphology head the model decodes with; the other one is dead weight when tagging."""
    keep = model.config.morph_decode
    for head in ("bundle", "factored"):
        if head != keep:
            setattr(model, f"{head}_head", None)
    model.config.morph_heads = [keep]


def stage_macro(stage: dict) -> dict:
    """{head: dev macro} of one training run (PyTorch fp32 on its own output folder)."""
    return stage.get("dev_macro") or {h: r["macro"] for h, r in (stage.get("dev") or {}).items()}


def describe_stage(stage: dict, head: str, pooling: str) -> str:
    cfg = stage.get("train_config", {})
    mixing = f"temperature {cfg['sampling_temperature']} sampling" if cfg.get("sampling_temperature") else "shuffled"
    extra = f", batch {cfg['batch_size']}" if cfg.get("batch_size", 32) != 32 else ""
    extra += f", dropout {cfg['dropout']}" if cfg.get("dropout", 0.1) != 0.1 else ""
    extra += f", wordpiece dropout {cfg['wordpiece_dropout']}" if cfg.get("wordpiece_dropout") else ""
    extra += f", character CNN added ({cfg['word_chars']} characters per word)" if cfg.get("word_chars") else ""
    extra += ", treebank-hint vectors only (every other weight frozen)" if cfg.get("hints_only") else ""
    macro = stage_macro(stage).get(head)
    dev = f", dev (fp32) {macro['upos']:.2f}/{macro['ufeats']:.2f}" if macro else ""
    where = f" on {stage['device']}" if stage.get("device", "cpu") != "cpu" else ""
    return (f"{stage['training_seconds'] / 60:.0f} min{where}, {stage['steps']} steps, lr {cfg.get('lr')}, "
            f"{mixing}, word pooling {pooling}{extra}, best epoch {stage['epoch']}{dev}")


def split_average(stage: dict) -> tuple[list[dict], list[list[dict]]]:
    """A model made by `polytag average` -> (the runs its sources share, then each source's own
    runs), so that the shared history is told once."""
    chains = branch_stages(stage["averaged_from"])
    shared = 0
    while all(len(c) > shared for c in chains) and all(run_id(c[shared]) == run_id(chains[0][shared]) for c in chains):
        shared += 1
    return chains[0][:shared], [c[shared:] for c in chains]


def describe_runs(stages: list[dict], head: str, pooling: str = "first") -> tuple[list[str], str]:
    """One description per stage, and the word pooling the last one ends with: a run without
    --word-pooling keeps its start model's (runs from before the option read the first piece)."""
    parts = []
    for stage in stages:
        if not stage.get("averaged_from"):
            pooling = stage.get("train_config", {}).get("word_pooling") or pooling
            parts.append(describe_stage(stage, head, pooling))
            continue
        shared, branches = split_average(stage)
        shared_parts, pooling = describe_runs(shared, head, pooling)
        described = [describe_runs(branch, head, pooling) for branch in branches]
        runs = " and ".join("[" + ("; then ".join(branch_parts) or "that model itself") + "]"
                            for branch_parts, _ in described)
        parts += shared_parts
        parts.append(f"{len(branches)} runs continuing that model, their weights averaged (polytag average): {runs}")
        # polytag average counts a first-piece model as first+last with a zero last-piece projection
        pooling = "first+last" if any(p == "first+last" for _, p in described) else pooling
    return parts, pooling


def trained_runs(stages: list[dict]) -> list[dict]:
    """Every training run behind the stages, an average expanded into the runs it averaged."""
    runs = []
    for stage in stages:
        if stage.get("averaged_from"):
            shared, branches = split_average(stage)
            runs += trained_runs(shared) + [r for branch in branches for r in trained_runs(branch)]
        else:
            runs.append(stage)
    return runs


def describe_training(metadata: dict, head: str) -> str:
    stages = training_stages(metadata)
    runs = trained_runs(stages)
    minutes: dict[str, float] = {}  # by device, first used first
    for run in runs:
        device = run.get("device", "?")
        minutes[device] = minutes.get(device, 0.0) + run["training_seconds"] / 60
    where = " and ".join(f"{m:.0f} min on {device}" for device, m in minutes.items())
    return f"{where} in {len(runs)} run(s): " + "; then ".join(describe_runs(stages, head)[0])


def head_comparison(metadata: dict) -> dict | None:
    """Dev UFeats of each morphology head, from the last run that trained both."""
    for run in trained_runs(training_stages(metadata))[::-1]:
        scores = stage_macro(run)
        if len(scores) > 1:
            return {h: macro["ufeats"] for h, macro in scores.items()}
    return None


def trained_on(metadata: dict) -> str:
    """Treebanks apart from machine-labelled text (ids ending in _pseudo, scripts/ensemble_label.py)."""
    ids = list(metadata["treebanks"])
    pseudo = [i for i in ids if i.endswith("_pseudo")]
    text = f" + machine-labelled text in {len(pseudo)} languages" if pseudo else ""
    said = f"{len(ids) - len(pseudo)} treebanks{text}, {metadata['train_words']:,} words in all"
    # a continued run lists only its own data: name the data folders of the runs before it
    last = metadata.get("train_config", {}).get("data")
    earlier = sorted({run.get("train_config", {}).get("data") for run in trained_runs(training_stages(metadata))}
                     - {last, None})
    return said + (f" in the last run; earlier runs read {', '.join(earlier)}" if earlier else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="trained model folder (e.g. runs/default); with --rescore "
                        "the treebank folder alone")
    parser.add_argument("data", type=Path, nargs="?", help="treebank folder whose dev files are scored")
    parser.add_argument("--rescore", action="store_true",
                        help="only score the shipped folder again on SOURCE's dev files, keeping the model "
                             "description in docs/results/default_model.json")
    parser.add_argument("--weights", choices=["int8", "fp16"], default="int8")
    parser.add_argument("--lexicon-min-count", type=int, default=1)
    parser.add_argument("--lexicon-text", type=Path, action="append", default=[], metavar="DIR",
                        help="machine-labelled text for the word lexicon's text lexicons (`polytag lexicon --text`)")
    parser.add_argument("--relearn-mwt", action="store_true",
                        help="with --rescore: learn the segmenter's MWT lexicon (no network: multiword tokens, "
                             "cue words, joins, hyphen conventions) again from the treebank folder's train splits")
    parser.add_argument("--relearn-guess", action="store_true",
                        help="with --rescore: learn the word lexicon's cue words and writing signs (train sentences "
                             "ending with punctuation, beginning with a capital) again from the treebank folder's "
                             "train splits; its forms are kept")
    parser.add_argument("--variants", action="store_true",
                        help="with --rescore: learn the character variants (Simplified Chinese characters no train "
                             "split has, read as the Traditional ones they have; needs `pip install "
                             "opencc-purepy==1.5.0` for OpenCC's character table)")
    parser.add_argument("--unfuse-onnx", action="store_true",
                        help="with --rescore: write the shipped graph's SkipLayerNormalization nodes as Add + "
                             "LayerNormalization, as `polytag export` does (ONNX Runtime's kernel for the fused op "
                             "is the slower)")
    parser.add_argument("--min-bundle-count", type=int, default=5,
                        help="keep only the bundle-head columns of FEATS bundles seen this often in the train "
                             "splits (the head's cost per word is its width; 1 keeps every bundle seen)")
    args = parser.parse_args()
    if args.rescore:
        return rescore(args.data or args.source, args.lexicon_min_count, args.lexicon_text, args.relearn_mwt,
                       args.variants, args.relearn_guess, args.unfuse_onnx)
    if args.data is None:
        parser.error("give the trained model folder and the treebank folder")
    source, data = args.source, args.data
    model, tokenizer, labels, config = load_model(source)
    metadata = json.loads((source / "metadata.json").read_text(encoding="utf-8"))
    n_params_trained = count_parameters(model)
    drop_unused_heads(model)
    n_bundles = len(labels.bundles)
    if model.bundle_head is not None and args.min_bundle_count > 1:
        keep = labels.frequent_bundles(feats_counts(data), args.min_bundle_count)
        prune_bundle_head(model, keep)
        labels = labels.with_bundles(keep)
    n_params = count_parameters(model)
    # the raw-text segmenter is trained apart: the source's if it has one, else the one shipped now
    segmenter = source / "segmenter" if (source / "segmenter").is_dir() else DEST / "segmenter"
    kept = None
    if segmenter.is_dir():
        kept = Path(tempfile.mkdtemp()) / "segmenter"
        shutil.copytree(segmenter, kept)
    if DEST.exists():
        shutil.rmtree(DEST)
    save_model(DEST, model, tokenizer, labels, metadata, weights=args.weights)
    if kept is not None:
        shutil.copytree(kept, DEST / "segmenter")
    export = subprocess.run([sys.executable, "-m", "polytag.cli", "export", "--model", str(DEST), "--no-fp32-copy"],
                            capture_output=True, text=True)
    print("export:", "ok" if export.returncode == 0 else export.stderr.strip()[-500:], file=sys.stderr)
    if export.returncode != 0:
        return 1
    lexicon = WordLexicon.learn_folder(data, args.lexicon_min_count, args.lexicon_text)
    lexicon.save(DEST / LEXICON_FILE)
    compact_labels(DEST)
    if (DEST / "segmenter").is_dir():
        compact_segmenter(DEST / "segmenter")
    if folder_mb(DEST) > MAX_MB:
        print(f"{DEST}: {folder_mb(DEST)} MB, over the {MAX_MB} MB the folder may take", file=sys.stderr)
        return 1

    result = {
        "command": f"python scripts/ship_default_model.py {source} {data} --weights {args.weights} "
                   f"--lexicon-min-count {args.lexicon_min_count} --min-bundle-count {args.min_bundle_count}"
                   + "".join(f" --lexicon-text {folder}" for folder in args.lexicon_text),
        "model": {
            "encoder": f"{config.encoder} ({config.encoder_config.get('num_hidden_layers')} layers, "
                       f"hidden {config.encoder_config.get('hidden_size')}, "
                       f"vocab {config.encoder_config.get('vocab_size')})",
            "parameters": f"{n_params:,} shipped" + (
                "" if n_params_trained == n_params
                else f" ({n_params_trained:,} trained, with the unused morphology head)"),
            "morphology head used": config.morph_decode,
            "bundle head": f"{len(labels.bundles):,} of the {n_bundles:,} bundles it was trained with "
                           f"(those seen at least {args.min_bundle_count} times in the train splits)",
            "word pooling": config.word_pooling,
            "character CNN": f"{config.word_chars} characters per word" if config.word_chars else "none",
            "stored weights": f"{args.weights} safetensors + int8 ONNX",
            "size on disk (MiB, whole folder)": folder_mb(DEST),
            "word lexicon": describe_lexicon(lexicon),
            "trained on": trained_on(metadata),
            "training": describe_training(metadata, config.morph_decode),
        },
    }
    score_shipped(data, result)
    comparison = head_comparison(metadata)
    if comparison:
        result["head_comparison"] = comparison
    write_result(result)
    return 0


RESULT = ROOT / "docs" / "results" / "default_model.json"


def write_result(result: dict) -> None:
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result["evaluation"]["macro"]), file=sys.stderr)


def score_shipped(data: Path, result: dict) -> None:
    """The shipped folder's dev scores into `result`: with its lexicon (no hint; each file's own
    hint where the model takes hints), the torch backend, and the network alone."""
    dev_files = sorted(tb.dev for tb in find_treebanks(data).values() if tb.dev)
    tagger = load_tagger(DEST)
    started = time.time()
    evaluation = evaluate_files(tagger, dev_files)
    seconds = time.time() - started
    words = sum(f["words"] for f in evaluation["files"].values())
    result["evaluation"] = evaluation
    result["torch_backend_macro"] = evaluate_files(load_tagger(DEST, backend="torch"), dev_files)["macro"]
    result["model"]["backend used for these scores"] = tagger.backend.name
    result["model"]["dev evaluation speed (words/s, incl. reading and scoring)"] = round(words / seconds)
    # int8 arithmetic differs between CPUs (with and without AVX-512 VNNI): the last digit can move
    here = machine()
    result["model"]["scored on"] = f"{here.get('cpus', '?')} x {cpu_label(here)}"
    hints = bool(tagger.treebank_hints)
    if hints:
        result["model"]["treebank hints"] = f"{len(tagger.treebank_hints)} treebanks (scores above: no hint)"
        result["evaluation_with_hints"] = evaluate_files(tagger, dev_files, treebank=AUTO_TREEBANK)
    network = load_tagger(DEST, lexicon=False)
    result["network_only_macro"] = {"no hint": evaluate_files(network, dev_files)["macro"]}
    if hints:
        result["network_only_macro"]["own hint"] = evaluate_files(network, dev_files, treebank=AUTO_TREEBANK)["macro"]
    result["evaluation_command"] = f"python scripts/ship_default_model.py --rescore {data}"


def describe_lexicon(lexicon: WordLexicon) -> str:
    return f"{lexicon.describe()}, {(DEST / LEXICON_FILE).stat().st_size / 1e6:.2f} MB"


def opencc_table() -> Path:
    """OpenCC's Simplified -> Traditional character table, from the opencc-purepy package."""
    try:
        import opencc_purepy  # noqa: PLC0415 - only to build the variants
    except ImportError:
        raise InputError("--variants needs OpenCC's character table: pip install opencc-purepy==1.5.0") from None
    return Path(opencc_purepy.__file__).parent / "dicts" / "STCharacters.txt"


def write_variants(data: Path) -> str:
    """The folder's variants.json.xz, learned from the train splits' characters; -> a summary."""
    seen = set()
    for path in sorted(data.glob("*/*-ud-train.conllu*")):
        for sentence in read_conllu(path):
            seen.update("".join(sentence.words))
    table = opencc_table()
    chinese = learn_variants(table.read_text(encoding="utf-8").splitlines(), seen)
    fullwidth = learn_fullwidth(seen)
    save_variants(DEST / VARIANTS_FILE, {**chinese, **fullwidth},
                  "OpenCC STCharacters.txt (Apache-2.0), via opencc-purepy 1.5.0; full-width forms by NFKC")
    return (f"{len(chinese):,} Simplified Chinese characters read as Traditional, "
            f"{len(fullwidth)} full-width forms as ASCII")


def rescore(data: Path, lexicon_min_count: int = 1, lexicon_text: list[Path] | None = None,
            relearn_mwt: bool = False, variants: bool = False, relearn_guess: bool = False,
            unfuse_onnx: bool = False) -> int:
    """Score the shipped folder again (a new scorer, a new dev copy) and keep the rest of the
    record: the trained source need not be on this machine. With lexicon_text, its word lexicon
    is first learned again, with text lexicons from those folders; with relearn_mwt, the
    segmenter's MWT lexicon, from the train splits of `data`; with relearn_guess, the word
    lexicon's cue words and writing signs, from the same; with unfuse_onnx, the graph's
    SkipLayerNormalization nodes are written as Add + LayerNormalization."""
    result = json.loads(RESULT.read_text(encoding="utf-8"))
    if unfuse_onnx:
        unfuse_folder(DEST)
        result["unfuse_command"] = f"python scripts/ship_default_model.py --rescore {data} --unfuse-onnx"
    if relearn_mwt:
        if not (DEST / "segmenter").is_dir():
            print(f"{DEST}: no segmenter/ whose MWT lexicon could be learned again", file=sys.stderr)
            return 1
        shipped = mwt_path(DEST / "segmenter")  # the shipped name (mwt.json.xz)
        staged = shipped.with_name("new." + shipped.name)  # the shipped one stays until the new one fits
        learn_lexicon(data).save(staged)
        if folder_mb(DEST) - shipped.stat().st_size / 2**20 > MAX_MB:
            print(f"{DEST}: over the {MAX_MB} MB the folder may take with this MWT lexicon", file=sys.stderr)
            staged.unlink()
            return 1
        staged.replace(shipped)
        result["mwt_command"] = f"python scripts/ship_default_model.py --rescore {data} --relearn-mwt"
    if variants:
        try:
            result["model"]["character variants"] = write_variants(data)
        except InputError as err:
            print(f"ship_default_model.py: {err}", file=sys.stderr)
            return 1
        result["variants_command"] = f"python scripts/ship_default_model.py --rescore {data} --variants"
    if lexicon_text:
        lexicon = WordLexicon.learn_folder(data, lexicon_min_count, lexicon_text)
        staged = DEST / (LEXICON_FILE + ".new")  # the shipped one stays until the new one fits
        lexicon.save(staged)
        shipped = DEST / LEXICON_FILE
        if folder_mb(DEST) - (shipped.stat().st_size if shipped.exists() else 0) / 2**20 > MAX_MB:
            print(f"{DEST}: over the {MAX_MB} MB the folder may take with this lexicon", file=sys.stderr)
            staged.unlink()
            return 1
        staged.replace(shipped)
        result["model"]["word lexicon"] = describe_lexicon(lexicon)
        result["lexicon_command"] = (f"python scripts/ship_default_model.py --rescore {data} --lexicon-min-count "
                                     f"{lexicon_min_count}" + "".join(f" --lexicon-text {t}" for t in lexicon_text))
    if relearn_guess:
        shipped = DEST / LEXICON_FILE
        lexicon = WordLexicon.load(shipped)
        lexicon.set_guess(*learn_guess(sorted(data.glob("*/*-ud-train.conllu*"))))
        staged = DEST / (LEXICON_FILE + ".new")
        lexicon.save(staged)
        staged.replace(shipped)
        result["guess_command"] = f"python scripts/ship_default_model.py --rescore {data} --relearn-guess"
    if relearn_mwt or variants or lexicon_text or relearn_guess:
        result["model"]["size on disk (MiB, whole folder)"] = folder_mb(DEST)
    score_shipped(data, result)
    write_result(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
