"""`polytag tag --format raw` end to end on 2 cores: words/s over the dev files' raw text (all 22
concatenated, paragraphs kept), and the cold start: a fresh process tagging one paragraph.

    python benchmarks/raw_throughput.py ../shared/ud --json docs/results/raw_throughput.json

The speed depends on the CPU (int8 most: see `polytag.bench.SPEED_FLAGS`), so the record names
the machine, and --json keeps the latest record of each other CPU found in the file before
("other_machines"), so that figures from different machines stay apart and side by side.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from polytag.bench import machine, other_machines  # noqa: E402
from polytag.core.segmentation import raw_text, read_gold_sentences  # noqa: E402
from dev_files import dev_parser  # noqa: E402 - beside this file


def main() -> None:
    parser = dev_parser(__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    devs = sorted(args.data.glob("*/*-ud-dev.conllu.xz"))
    gold_words = 0
    with open(work / "all.txt", "w", encoding="utf-8") as f:
        for dev in devs:
            sentences = read_gold_sentences(dev)
            gold_words += sum(len(t.words) for s in sentences for t in s.tokens)
            f.write(raw_text(sentences) + "\n")
    (work / "paragraph.txt").write_text("Der Hund schläft im Garten, weil die Sonne scheint. Le chat dort.\n",
                                        encoding="utf-8")
    command = [sys.executable, "-m", "polytag.cli", "tag", "--format", "raw", "--threads", str(args.threads)]
    command += ["--model", str(args.model)]
    start = time.perf_counter()
    subprocess.run(command + [str(work / "paragraph.txt"), "-o", str(work / "p.conllu")], check=True)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run(command + [str(work / "all.txt"), "-o", str(work / "all.conllu")], check=True)
    seconds = time.perf_counter() - start
    words = sum(1 for line in open(work / "all.conllu", encoding="utf-8")
                if line[:1].isdigit() and line.split("\t", 1)[0].isdigit())
    result = {"files": len(devs), "characters": (work / "all.txt").stat().st_size, "words_out": words,
              "gold_words": gold_words, "seconds": round(seconds, 2),
              "words_per_s": round(words / seconds), "cold_start_one_paragraph_s": round(cold, 2),
              "threads": args.threads, "note": "wall time of the whole command, start-up included",
              "machine": machine(), "when": time.strftime("%Y-%m-%d")}
    print(json.dumps(result, indent=1))
    if args.json:
        result["other_machines"] = other_machines(Path(args.json), result["machine"])
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
