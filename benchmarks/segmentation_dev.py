"""Raw-text segmentation on the UD dev splits, scored like the CoNLL 2018 shared task.

    .venv/bin/python benchmarks/segmentation_dev.py runs/segmenter [--ud ../shared/ud]
        [--threads 1] [--save-dir DIR]

For each treebank with a dev split: the dev raw text (each sentence's `# text`, joined by its
spacing, a blank line at each # newpar / # newdoc) goes through the segmenter; its output is
written as CoNLL-U (words only, HEAD 1 / word 1 HEAD 0 since the scorer needs numeric heads)
and scored against the gold file by polytag.core.ud_eval. Prints Tokens / Words / Sentences
F1 per treebank, their macro average, and the segmenter's words per second.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

from polytag.core import ud_eval
from polytag.core.conllu_io import open_text
from polytag.core.segmentation import RawSentence, raw_text, read_gold_sentences
from polytag.tagging.segmenter import Segmenter

METRICS = ("Tokens", "Words", "Sentences")


def to_conllu(sentences: list[RawSentence]) -> str:
    out = io.StringIO()
    for sentence in sentences:
        out.write(f"# text = {sentence.text}\n")
        word_id = 1
        for token in sentence.tokens:
            misc = "_" if token.space_after else "SpaceAfter=No"
            if len(token.words) > 1:
                last = word_id + len(token.words) - 1
                out.write(f"{word_id}-{last}\t{token.form}\t_\t_\t_\t_\t_\t_\t_\t{misc}\n")
                misc = "_"
            for word in token.words:
                head = 0 if word_id == 1 else 1
                out.write(f"{word_id}\t{word}\t_\t_\t_\t_\t{head}\t_\t_\t{misc}\n")
                word_id += 1
        out.write("\n")
    return out.getvalue()


def run_treebank(segmenter: Segmenter, gold_path: Path, save_dir: Path | None):
    text = raw_text(read_gold_sentences(gold_path))
    started = time.perf_counter()
    sentences = list(segmenter.segment(text))
    seconds = time.perf_counter() - started
    n_words = sum(len(t.words) for s in sentences for t in s.tokens)
    system = to_conllu(sentences)
    if save_dir is not None:
        (save_dir / gold_path.name.replace(".conllu.xz", ".polytag.conllu")).write_text(system)
    with open_text(gold_path) as stream:
        gold = ud_eval.load_conllu(stream, str(gold_path))
    scores = ud_eval.evaluate(gold, ud_eval.load_conllu(io.StringIO(system), "system"))
    return {m: 100 * scores[m].f1 for m in METRICS}, n_words, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="a segmenter folder")
    parser.add_argument("--ud", type=Path, default=Path("../shared/ud"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--save-dir", type=Path)
    args = parser.parse_args()
    segmenter = Segmenter.load(args.model, threads=args.threads)
    if args.save_dir:
        args.save_dir.mkdir(parents=True, exist_ok=True)
    rows, words, seconds = {}, 0, 0.0
    print(f"{'treebank':16} {'Tokens':>7} {'Words':>7} {'Sents':>7}")
    for gold_path in sorted(args.ud.glob("*/*-ud-dev.conllu*")):
        scores, n, s = run_treebank(segmenter, gold_path, args.save_dir)
        rows[gold_path.parent.name] = scores
        words, seconds = words + n, seconds + s
        print(f"{gold_path.parent.name:16} " + " ".join(f"{scores[m]:7.2f}" for m in METRICS))
    macro = {m: sum(r[m] for r in rows.values()) / len(rows) for m in METRICS}
    print(f"{'MACRO':16} " + " ".join(f"{macro[m]:7.2f}" for m in METRICS))
    print(f"{words:,} words in {seconds:.1f} s: {words / seconds:,.0f} words/s "
          f"({args.threads} thread(s))")  # fmt: skip


if __name__ == "__main__":
    main()
