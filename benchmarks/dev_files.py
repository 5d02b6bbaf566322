"""What the dev benchmarks share: their command line and the gold segmentation of dev raw text."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from polytag import DEFAULT_MODEL  # noqa: E402


def dev_parser(description: str) -> argparse.ArgumentParser:
    """A treebank folder, --model and --json; a benchmark adds its own options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("data", type=Path, help="treebank folder with <id>/<id>-ud-dev.conllu[.xz]")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--json")
    return parser


def gold_spans(sentences, text: str) -> tuple[set, set]:
    """(token spans, sentence spans) of gold sentences in the raw text rebuilt from them."""
    tokens, spans, pos = set(), set(), 0
    for sentence in sentences:
        first = None
        for token in sentence.tokens:
            at = text.find(token.form, pos)
            if at >= 0:
                tokens.add((at, at + len(token.form)))
                pos = at + len(token.form)
                first = at if first is None else first
        spans.add((first, pos))
    return tokens, spans
