"""Raw-text segmentation side by side: polytag's segmenter against UDPipe 1 (`ufal.udpipe`, the
CoNLL 2018 baseline's segmenter) with tokenizers trained on the same train splits (dev as
heldout), on the same dev raw text: Tokens, Words and Sentences F1 (CoNLL 2018 scorer,
polytag.core.ud_eval) and words/s, per treebank and macro.

    pip install ufal.udpipe==1.4.0.1
    python benchmarks/segmentation.py ../shared/ud --json docs/results/segmentation.json
    python benchmarks/segmentation.py ../shared/ud --treebanks lt_hse,mr_ufal --udpipe-epochs 20   # quicker
    python benchmarks/segmentation.py ../shared/ud --udpipe-outputs ../shared/tools/raw_eval_cases \
        --json docs/results/segmentation.json      # UDPipe 1's given outputs where there are, trained elsewhere

A segmenter trained with treebank hints is also measured with each treebank's own hint (the
setting of UDPipe's one model per treebank). Trained UDPipe models are cached in
runs/udpipe/<treebank>.udpipe (a rerun skips training).
Without ufal.udpipe installed only polytag's rows are measured.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import polytag  # noqa: E402
from polytag.core.segmentation import raw_text, read_gold_sentences  # noqa: E402
from polytag.core.ud_eval import evaluate, load_conllu, load_conllu_file  # noqa: E402
from polytag.tagging.raw import raw_sentences  # noqa: E402
from udpipe_models import load_text, train_udpipe  # noqa: E402 - beside this file

METRICS = ("Tokens", "Words", "Sentences")
# UDPipe 1's tokenizer options as its UD 2.x models were trained (one setting for all treebanks here)
UDPIPE_TOKENIZER = "dimension=24;epochs={epochs};segment_size=50;learning_rate=0.005;dropout=0.1;early_stopping=1"


def polytag_conllu(segmenter, text: str, treebank: str | None = None) -> str:
    """Segmented text as CoNLL-U (no tags): what the scorer needs."""
    out = []
    for sentence in raw_sentences(segmenter, [text], treebank=treebank):
        out.append("\n".join(sentence.lines) + "\n\n")
    return "".join(out)


def timed_polytag(segmenter, dev: Path, text: str, n_words: int, treebank: str | None = None) -> dict:
    start = time.perf_counter()
    system = polytag_conllu(segmenter, text, treebank)
    return {**score(dev, system), "words_per_s": round(n_words / (time.perf_counter() - start))}


def udpipe_conllu(model, text: str) -> str:
    from ufal.udpipe import Pipeline  # noqa: PLC0415

    return Pipeline(model, "tokenize", Pipeline.NONE, Pipeline.NONE, "conllu").process(text)


def score(gold: Path, system: str) -> dict:
    result = evaluate(load_conllu_file(gold), load_conllu(system.splitlines(), "system"))
    return {m: round(100 * result[m].f1, 2) for m in METRICS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="treebank folder (<id>/<id>-ud-{train,dev}.conllu.xz)")
    parser.add_argument("--model", default=str(polytag.DEFAULT_MODEL), help="polytag model folder with segmenter/")
    parser.add_argument("--treebanks", help="comma-separated ids (default: every treebank with dev)")
    parser.add_argument("--udpipe-epochs", type=int, default=100)
    parser.add_argument("--no-udpipe", action="store_true")
    parser.add_argument("--udpipe-outputs", help="a folder of UDPipe 1 outputs (<tb>-ud-dev.udpipe1.conllu.xz) "
                        "to score instead of training UDPipe here")
    parser.add_argument("--udpipe-rows", help="an earlier results JSON of this script: take UDPipe 1's rows "
                        "trained there instead of training UDPipe here (its models are cached in runs/udpipe, "
                        "which a new machine lacks; training all 22 takes hours)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    # the tagger's segmenter: without a hint it splits each text as the treebank its head reads
    # like (the tagger's word lexicon guesses), as `polytag tag --format raw` does
    segmenter = polytag.load(args.model).segmenter
    earlier = json.loads(Path(args.udpipe_rows).read_text(encoding="utf-8"))["treebanks"] if args.udpipe_rows else {}
    wanted = set(args.treebanks.split(",")) if args.treebanks else None
    rows: dict[str, dict] = {}
    for dev in sorted(Path(args.data).glob("*/*-ud-dev.conllu*")):
        tb = dev.name.split("-ud-")[0]
        if wanted and tb not in wanted:
            continue
        text = raw_text(read_gold_sentences(dev))
        n_words = sum(len(s.tokens) for s in read_gold_sentences(dev))
        row = {"polytag": timed_polytag(segmenter, dev, text, n_words)}
        if tb in segmenter.treebank_hints:  # segmenting as this treebank does, as UDPipe's per-treebank model
            row["polytag, own treebank hint"] = timed_polytag(segmenter, dev, text, n_words, tb)
        given = Path(args.udpipe_outputs or "-") / f"{tb}-ud-dev.udpipe1.conllu.xz"
        if given.exists():
            row["udpipe1"] = {**score(dev, load_text(given)), "words_per_s": None, "source": "given outputs"}
        elif "udpipe1" in earlier.get(tb, {}):
            source = earlier[tb]["udpipe1"]["source"].removesuffix(" (an earlier run)")
            row["udpipe1"] = {**earlier[tb]["udpipe1"], "source": f"{source} (an earlier run)"}
        elif not args.no_udpipe:
            try:
                model, _ = train_udpipe(dev.parent / dev.name.replace("-dev.", "-train."), dev, Path("runs/udpipe"),
                                        tokenizer=UDPIPE_TOKENIZER.format(epochs=args.udpipe_epochs))
            except ImportError:
                args.no_udpipe = True
            else:
                start = time.perf_counter()
                system = udpipe_conllu(model, text)
                row["udpipe1"] = {**score(dev, system), "words_per_s": round(n_words / (time.perf_counter() - start)),
                                  "source": "trained here"}
        rows[tb] = row
        print(tb, json.dumps(row))
    systems = sorted({s for r in rows.values() for s in r})

    def mean(system: str, treebanks: list[str]) -> dict:
        return {m: round(sum(rows[tb][system][m] for tb in treebanks) / len(treebanks), 2) for m in METRICS}

    every = [tb for tb, r in rows.items() if len(r) == len(systems)]  # the treebanks every system ran on
    macro = {s: mean(s, every) for s in systems}
    # the anchor the issue names: UDPipe 1's given outputs on their files
    given = [tb for tb in every if rows[tb].get("udpipe1", {}).get("source") == "given outputs"]
    if given and len(given) < len(every):
        macro.update({f"{s} on the {len(given)} with given UDPipe outputs": mean(s, given) for s in systems})
    print("macro", json.dumps(macro))
    if args.json:
        command = "python benchmarks/segmentation.py " + " ".join(sys.argv[1:])
        Path(args.json).write_text(json.dumps({"treebanks": rows, "macro": macro, "command": command,
                                               "udpipe_tokenizer": UDPIPE_TOKENIZER.format(epochs=args.udpipe_epochs)},
                                              indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
