"""Character variants: Simplified Chinese read as the Traditional characters the model knows.

The only Chinese treebank here (zh_gsd) is written in Traditional characters, so Simplified
text (the mainland's, most Chinese text) met characters the segmenter and the tagger never saw
(`们`, `这`, `兴`): on zh_gsd's sentences converted to Simplified, raw-text Tokens fell from
100.00 to 78.09 and UPOS from 99.99 to 72.08 (docs/experiments.md). The model folder's
`variants.json.xz` maps each Simplified character that no train split has to its Traditional
character where the train splits have that one (OpenCC's character table; Apache-2.0), and each
full-width form of ASCII that none has ('，', '？': zh_gsd writes ',' and '?') to ASCII. The
segmenter and the tagger read the mapped characters, one for one, so offsets and the words
written out stay the input's. Characters some train split has are never mapped: Japanese `国`
stays `国`.
"""

from __future__ import annotations

import json
import lzma
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from .conllu_io import read_bytes, write_text
from .errors import InputError

VARIANTS_FILE = "variants.json.xz"
FORMAT = "polytag-character-variants"
VERSION = 1


def learn_variants(table_lines: Iterable[str], seen: set[str]) -> dict[str, str]:
    """{simplified: traditional} from an OpenCC character table (`STCharacters.txt`: a character,
    a tab, its variants by spaces, the most common first): the first variant the train splits
    have, for characters they do not have. A character that is one of its own variants (朴:
    樸 or 朴, a Korean surname too) is written so in Traditional text as well: kept."""
    out = {}
    for line in table_lines:
        source, _, targets = line.rstrip("\n").partition("\t")
        variants = targets.split(" ")
        if len(source) != 1 or source in seen or source in variants:
            continue
        target = next((t for t in variants if len(t) == 1 and t in seen), None)
        if target is not None:
            out[source] = target
    return out


def learn_fullwidth(seen: set[str]) -> dict[str, str]:
    """{full-width form: ASCII} for the full-width forms of ASCII (U+FF01-FF5E: '，', '？', '（')
    that no train split has, whose ASCII form one has (zh_gsd writes ',' and '?', Chinese text
    mostly '，' and '？'). Unicode's compatibility mapping (NFKC) gives the ASCII form."""
    out = {}
    for code in range(0xFF01, 0xFF5F):
        source = chr(code)
        target = unicodedata.normalize("NFKC", source)
        if source not in seen and len(target) == 1 and target in seen:
            out[source] = target
    return out


def save_variants(path: str | Path, variants: dict[str, str], source: str) -> None:
    data = {"format": FORMAT, "version": VERSION, "source": source, "variants": dict(sorted(variants.items()))}
    write_text(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")


def load_variants(folder: str | Path) -> dict[int, int] | None:
    """The model folder's variants as a `str.translate` table, or None when it has none."""
    path = Path(folder) / VARIANTS_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(read_bytes(path))
        if data.get("format") != FORMAT or data.get("version") != VERSION:
            raise ValueError(f"not a {FORMAT} version {VERSION} file")
        table = {ord(s): ord(t) for s, t in data["variants"].items()}
    except (OSError, EOFError, lzma.LZMAError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise InputError(f"{path}: not a character variants file ({err})") from None
    return table or None


def translate_words(sentences: list[list[str]], table: dict[int, int] | None) -> list[list[str]]:
    """The sentences with each word's characters mapped (the same lists where nothing maps)."""
    if not table:
        return sentences
    return [[word.translate(table) for word in words] for words in sentences]
