"""UDPipe 1 (`ufal.udpipe`, the CoNLL 2018 baseline tagger) trained on each treebank's train split,
against polytag, both tagging the dev file's gold tokens: UPOS and UFeats per treebank.

    pip install ufal.udpipe==1.4.0.1
    python benchmarks/peers.py ../shared/ud --treebanks lt_hse,be_hse,ta_ttb,mr_ufal --json docs/results/peers.json

UDPipe trains one tagger per treebank with the MorphoDiTa tagger options its UD 2.x models were
trained with (UDPIPE_TAGGER below; only the tagging model, as lemmas are not scored; `--tagger` to
change them; dev as heldout), cached in runs/udpipe-tagger/<treebank>.udpipe. Each treebank's row is
written to --json as soon as it is measured, and a rerun skips rows already there. A model with
treebank hints is also scored with each treebank's own hint ("polytag_hint": the per-treebank
conventions UDPipe's per-treebank models have). `--rescore-polytag` scores the (new) model again
on the treebanks already there and keeps their UDPipe rows (no UDPipe training needed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import polytag  # noqa: E402
from polytag.core.conllu_io import read_conllu  # noqa: E402
from polytag.core.evaluate import score  # noqa: E402
from udpipe_models import load_text, train_udpipe  # noqa: E402 - beside this file

# The tagger half of UDPipe 1's reproducible UD 2.x training options (models 1 of 2: UPOS, XPOS, FEATS).
UDPIPE_TAGGER = ("models=1;templates_1=tagger;guesser_suffix_rules_1=8;guesser_enrich_dictionary_1=6;"
                 "guesser_prefixes_max_1=0;use_lemma_1=0;use_xpostag_1=1;use_feats_1=1;provide_lemma_1=0;"
                 "provide_xpostag_1=1;provide_feats_1=1;prune_features_1=0")
PEERS = ("lt_hse", "be_hse", "mr_ufal", "ta_ttb", "hu_szeged", "tr_imst", "el_gdt", "ko_gsd", "fr_sequoia", "en_ewt")


def udpipe_tags(model, dev: Path) -> tuple[list, list]:
    """UDPipe on the gold tokens of dev: (upos, feats) per sentence."""
    from ufal.udpipe import Pipeline  # noqa: PLC0415

    out = Pipeline(model, "conllu", Pipeline.DEFAULT, Pipeline.NONE, "conllu").process(load_text(dev))
    tmp = Path("runs/udpipe-tagger") / f"{dev.name}.udpipe-out.conllu"
    tmp.write_text(out, encoding="utf-8")
    sentences = list(read_conllu(tmp))
    return [s.upos for s in sentences], [s.feats for s in sentences]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="treebank folder (<id>/<id>-ud-{train,dev}.conllu.xz)")
    parser.add_argument("--treebanks", default=",".join(PEERS))
    parser.add_argument("--tagger", default=UDPIPE_TAGGER, help="UDPipe tagger options")
    parser.add_argument("--model", default=str(polytag.DEFAULT_MODEL))
    parser.add_argument("--json")
    parser.add_argument("--rescore-polytag", action="store_true",
                        help="score the model again on the treebanks in --json, keeping their UDPipe rows")
    args = parser.parse_args()
    tagger = polytag.load(args.model)
    done = json.loads(Path(args.json).read_text(encoding="utf-8")) if args.json and Path(args.json).exists() else {}
    rows = done.get("treebanks", {}) if done.get("udpipe_tagger_options") == args.tagger else {}
    args.note = done.get("note", "dev, gold tokens, UDPipe 1 trained here on the same train split")
    for tb in args.treebanks.split(","):
        if (tb in rows) != bool(args.rescore_polytag):  # done already, or not to rescore
            continue
        dev = Path(args.data) / tb / f"{tb}-ud-dev.conllu.xz"
        gold = list(read_conllu(dev))
        row = polytag_rows(tagger, tb, gold)
        if tb in rows:  # --rescore-polytag
            rows[tb] = {**row, "udpipe1": rows[tb]["udpipe1"]}
            write(args, rows)
            continue
        try:
            model, seconds = train_udpipe(dev.parent / f"{tb}-ud-train.conllu.xz", dev, Path("runs/udpipe-tagger"),
                                          tagger=args.tagger)
        except ImportError:
            sys.exit(f"peers.py: {tb}: UDPipe 1 is not installed (pip install ufal.udpipe==1.4.0.1); "
                     "the rows before it are kept")
        row["udpipe1"] = {**score(gold, *udpipe_tags(model, dev)), "train_s": seconds}
        rows[tb] = row
        print(tb, json.dumps(row), flush=True)
        write(args, rows)


def polytag_rows(tagger, tb: str, gold) -> dict:
    """polytag's scores with no hint, and with the treebank's own hint where the model has one."""
    words = [s.words for s in gold]
    row = {"polytag": score(gold, *tagger.predict(words))}
    if tb in tagger.treebank_hints:
        row["polytag_hint"] = score(gold, *tagger.predict(words, treebank=tb))
    return row


def write(args, rows: dict) -> None:
    result = {"treebanks": rows, "udpipe_tagger_options": args.tagger, "note": args.note}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
