"""False warnings of the language-coverage check: run it on every treebank's dev split (and, for
treebanks without dev, its train split), exactly as `polytag tag` does on a file's first chunk,
and count the files it would warn about (all are in languages the model covers: it should be 0).
Also a few texts in languages the model does not cover, which it should flag.

    python benchmarks/coverage_check.py ../shared/ud --json docs/results/coverage.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import polytag  # noqa: E402
from polytag.core.conllu_io import read_conllu  # noqa: E402
from polytag.core.folder import load_metadata  # noqa: E402
from polytag.core.languages import model_languages  # noqa: E402
from polytag.tagging.coverage import SAMPLE_CHARS, covered_codes, uncovered_language  # noqa: E402

UNCOVERED = {  # one sentence each, in languages no treebank here has
    "ar": "هذا بيت صغير في طرف المدينة وهو جميل جدا ونحن نحبه كثيرا",
    "hi": "यह शहर के किनारे एक छोटा सा घर है और यह बहुत सुंदर है",
    "sw": "Hii ni nyumba ndogo pembeni mwa mji na ni nzuri sana kwetu sote",
    "th": "นี่คือบ้านหลังเล็กที่อยู่ชายเมืองและมันสวยมากสำหรับพวกเรา",
}


def sample(path: Path) -> list[str]:
    out, chars = [], 0
    for sentence in read_conllu(path):
        out.append(" ".join(sentence.words))
        chars += len(out[-1]) + 1
        if chars >= SAMPLE_CHARS:
            break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="treebank folder (<id>/<id>-ud-{dev,train}.conllu.xz)")
    parser.add_argument("--model", default=str(polytag.DEFAULT_MODEL))
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    covered = covered_codes([e["code"] for e in model_languages(load_metadata(args.model))])
    files = {}
    for folder in sorted(Path(args.data).iterdir()):
        split = next((p for kind in ("dev", "train") for p in folder.glob(f"*-ud-{kind}.conllu*")), None)
        if split is None:
            continue
        verdict = uncovered_language(sample(split), covered)
        files[split.name] = {"warns": verdict is not None, "language": verdict and verdict[0],
                             "share": verdict and round(verdict[1], 3)}
        print(f"{split.name:<36} {'WARNS ' + str(verdict) if verdict else 'ok'}")
    flagged = {lang: uncovered_language([text] * 5, covered) is not None for lang, text in UNCOVERED.items()}
    result = {"files": files, "false_warnings": sum(f["warns"] for f in files.values()), "checked": len(files),
              "uncovered_flagged": flagged}
    print(f"false warnings: {result['false_warnings']} of {len(files)} files; uncovered texts flagged: {flagged}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
