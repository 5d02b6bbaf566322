"""Simplified Chinese: zh_gsd (written in Traditional characters, no dev split here) sentences
converted to Simplified by OpenCC (and with full-width punctuation, as mainland text is written),
segmented and tagged with and without the model folder's character variants (core.variants); raw
text and gold tokens, F1 / accuracy as polytag evaluate.

The sentences are zh_gsd's last train sentences (all 500 of the copy here, its official dev
split used as train): the model was trained on them in Traditional
characters, so the Traditional row is a fit to training, not a held-out score; what this
measures is how much of it Simplified text loses, and how much the variants give back.

    python benchmarks/simplified_chinese.py ../shared/ud [--sentences 500] [--model DIR] [--json FILE]

Needs `pip install opencc-purepy==1.5.0` (in the dev extra) for the conversion.
"""

from __future__ import annotations

import json
import lzma
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from polytag.core.evaluate import evaluate_files  # noqa: E402
from polytag.tagging import load  # noqa: E402
from polytag.tagging.raw import evaluate_raw  # noqa: E402
from polytag.tagging.segmenter import Segmenter  # noqa: E402
from dev_files import dev_parser  # noqa: E402 - beside this file


FULL_WIDTH = {",": "，", "?": "？", "!": "！", ":": "：", ";": "；", "(": "（", ")": "）", ".": "。"}


def simplified(block: str, convert) -> str:
    """A CoNLL-U sentence with its forms and lemmas converted, its # text rebuilt from them."""
    lines, tokens, inside = [], [], 0
    for line in block.split("\n"):
        cols = line.split("\t")
        if len(cols) == 10:
            cols[1], cols[2] = convert(cols[1]), convert(cols[2])
            if "-" in cols[0]:
                inside = int(cols[0].split("-")[1])
                tokens.append((cols[1], "SpaceAfter=No" not in cols[9]))
            elif "." not in cols[0]:
                if inside and int(cols[0]) <= inside:
                    inside = 0 if int(cols[0]) == inside else inside
                else:
                    tokens.append((cols[1], "SpaceAfter=No" not in cols[9]))
            line = "\t".join(cols)
        lines.append(line)
    text = "".join(form + (" " if space else "") for form, space in tokens).rstrip()
    return "\n".join(f"# text = {text}" if line.startswith("# text = ") else line for line in lines)


def main() -> None:
    parser = dev_parser(__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=500)
    args = parser.parse_args()
    try:
        from opencc_purepy import OpenCC  # noqa: PLC0415
    except ImportError:
        sys.exit("simplified_chinese.py: needs `pip install opencc-purepy==1.5.0`")
    train = args.data / "zh_gsd" / "zh_gsd-ud-train.conllu.xz"
    blocks = lzma.open(train, "rt", encoding="utf-8").read().strip().split("\n\n")[-args.sentences :]
    t2s = OpenCC("t2s").convert
    out = Path(tempfile.mkdtemp())
    files = {"Traditional (as trained)": out / "zh_traditional-ud-dev.conllu",
             "Simplified": out / "zh_simplified-ud-dev.conllu"}  # fmt: skip
    files["Traditional (as trained)"].write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")
    files["Simplified"].write_text("\n\n".join(simplified(b, t2s) for b in blocks) + "\n\n", encoding="utf-8")
    # as mainland text is written: full-width punctuation (zh_gsd writes ASCII ',' '?' '.')
    files["Simplified, full-width punctuation"] = out / "zh_fullwidth-ud-dev.conllu"
    files["Simplified, full-width punctuation"].write_text(
        "\n\n".join(simplified(b, lambda form: FULL_WIDTH.get(form) or t2s(form)) for b in blocks) + "\n\n",
        encoding="utf-8")
    tagger = load(args.model)
    with_variants = tagger.segmenter  # as `polytag tag` segments: the treebank guessed from the text
    without = Segmenter.load(args.model / "segmenter")
    without.guess_treebank = with_variants.guess_treebank
    variants = tagger.variants
    rows = {}
    for script, path in files.items():
        for name, table, segmenter in (("with variants", variants, with_variants), ("without", None, without)):
            tagger.variants = table
            gold = evaluate_files(tagger, [path])["macro"]
            raw = evaluate_raw(tagger, segmenter, [path])["macro"]
            rows[f"{script}, {name}"] = {"gold tokens": {"upos": gold["upos"], "ufeats": gold["ufeats"]}, "raw text": raw}
            print(f"{script}, {name}", json.dumps(rows[f"{script}, {name}"]), flush=True)
    tagger.variants = variants
    words = sum(line.split("\t", 1)[0].isdigit() for b in blocks for line in b.split("\n"))
    result = {"sentences": len(blocks), "words": words, "variants": len(variants or {}), "rows": rows,
              "command": f"python benchmarks/simplified_chinese.py {args.data} --sentences {args.sentences}"}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
