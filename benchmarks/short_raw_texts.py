"""Raw text in short requests: each dev sentence's raw text (its `# text`) segmented and tagged as
a text of its own, with no hint (a server request of one sentence: no treebank is guessed under
raw.MIN_GUESS_CHARS, and the word lexicon's guess starts afresh), scored against the gold file
with the CoNLL 2018 alignment: Tokens / Words / UPOS / UFeats F1 per file and macro. Beside it
the same files as one text each (`polytag evaluate --raw`). Words is where a short text differs
most: a multiword token is split as the language its few words point to ('al': Spanish 'a el',
Italian 'a il'). Sentences are left out: each request is one gold sentence.

    python benchmarks/short_raw_texts.py ../shared/ud [--model DIR] [--json FILE] [--only ID,ID]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from polytag.bench import machine  # noqa: E402
from polytag.core.conllu_io import format_conllu  # noqa: E402
from polytag.core.evaluate import file_keys  # noqa: E402
from polytag.core.segmentation import read_gold_sentences  # noqa: E402
from polytag.core.ud_eval import evaluate, load_conllu, load_conllu_file  # noqa: E402
from polytag.tagging import load, raw  # noqa: E402
from dev_files import dev_parser  # noqa: E402 - beside this file

METRICS = ("Tokens", "Words", "UPOS", "UFeats")


def short_texts_system(tagger, path: Path) -> str:
    """The file's sentences, each segmented and tagged as a text of its own, as one CoNLL-U."""
    out = []
    for gold in read_gold_sentences(path):
        sentences = raw.segment_text(tagger.segmenter, gold.text)
        out += [format_conllu(s, u, f) for s, u, f in tagger.tag_stream(sentences)]
    return "".join(out)


def main() -> None:
    parser = dev_parser(__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated treebank ids")
    args = parser.parse_args()
    paths = sorted(args.data.glob("*/*-ud-dev.conllu*"))
    if args.only:
        paths = [p for p in paths if p.parent.name in args.only.split(",")]
    tagger = load(args.model, threads=1)
    files, started = {}, time.perf_counter()
    for key, path in zip(file_keys(paths), paths):
        system = short_texts_system(tagger, path)
        scores = evaluate(load_conllu_file(path), load_conllu(system.splitlines(), f"short texts of {key}"))
        files[key] = {m: round(100 * scores[m].f1, 2) for m in METRICS}
        print(key, files[key], f"{time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    macro = {m: round(sum(f[m] for f in files.values()) / len(files), 2) for m in METRICS}
    command = "python benchmarks/short_raw_texts.py " + str(args.data) + (f" --only {args.only}" if args.only else "")
    result = {"files": files, "macro": macro, "command": command, "machine": machine(),
              "when": time.strftime("%Y-%m-%d")}
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
