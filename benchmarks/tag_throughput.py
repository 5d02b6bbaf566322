"""End-to-end tagging speed of the `polytag tag` command, and fresh-process start-up time.

    python benchmarks/tag_throughput.py [--model DIR] [--input DEV.conllu[.xz]] [--threads 2]
                                        [--repeats 3] [--json docs/results/tag_throughput.json]

1. Throughput: `polytag tag INPUT --threads N -o OUT` (CoNLL-U in, CoNLL-U out) in a fresh
   process; the input is decompressed to a plain temporary file first, so xz decoding is not
   counted. Reported: words / wall time of the whole command (start-up included), and words /
   (wall time - start-up time), the steady-state rate on a long input. Median of --repeats runs.
2. Start-up: a fresh process that loads the model and tags one sentence, via the Python API
   (`python -c "import polytag; polytag.load(...).tag(...)"`) and via the CLI (`polytag tag`
   on one line of text). Median of 5 runs each.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from polytag.bench import machine  # noqa: E402

DEFAULT_MODEL = ROOT / "polytag" / "models" / "default"
DEV = [ROOT.parent / "shared" / "ud" / "en_ewt" / "en_ewt-ud-dev.conllu.xz",
       Path("/work/shared/ud/en_ewt/en_ewt-ud-dev.conllu.xz")]
SENTENCE = "Das ist ein kleines Haus am Rande der Stadt ."


def timed(cmd: list[str], **kwargs) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kwargs)
    return time.perf_counter() - t0


def count_words(path: Path) -> int:
    n = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            head = line.split("\t", 1)[0]
            n += head.isdigit()
    return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--input", default=next((str(p) for p in DEV if p.exists()), None))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=str(ROOT / "docs" / "results" / "tag_throughput.json"))
    args = parser.parse_args()
    bindir = Path(sys.executable).parent
    polytag = str(bindir / "polytag") if (bindir / "polytag").exists() else "polytag"
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    model_args = ["--model", args.model, "--threads", str(args.threads), "--backend", args.backend]
    if args.batch_size:
        model_args += ["--batch-size", str(args.batch_size)]

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(args.input)
        plain = Path(tmp) / "input.conllu"
        opener = lzma.open if src.suffix == ".xz" else open
        with opener(src, "rt", encoding="utf-8") as f_in, open(plain, "w", encoding="utf-8") as f_out:
            f_out.write(f_in.read())
        words = count_words(plain)
        one = Path(tmp) / "one.txt"
        one.write_text(SENTENCE + "\n", encoding="utf-8")

        # start-up: load + one sentence in a fresh process
        api_code = (f"import polytag; t = polytag.load({args.model!r}, threads={args.threads}, "
                    f"backend={args.backend!r}); t.tag([{SENTENCE.split()!r}])")
        api = [timed([sys.executable, "-c", api_code], env=env) for _ in range(5)]
        cli = [timed([polytag, "tag", "--format", "text", str(one), *model_args], env=env) for _ in range(5)]
        startup = statistics.median(cli)

        runs = []
        for _ in range(args.repeats):
            out = Path(tmp) / "out.conllu"
            runs.append(timed([polytag, "tag", str(plain), "-o", str(out), *model_args], env=env))
        assert count_words(out) == words, "output lost words"
        wall = statistics.median(runs)

    result = {
        "command": "python benchmarks/tag_throughput.py " + " ".join(sys.argv[1:]),
        "model": args.model,
        "backend": args.backend,
        "input": str(src), "words": words, "threads": args.threads,
        "wall_seconds": [round(r, 3) for r in runs],
        "words_per_s_end_to_end": round(words / wall),
        "words_per_s_steady": round(words / max(wall - startup, 1e-9)),
        "startup_load_and_one_sentence_s": {"python_api": round(statistics.median(api), 3),
                                            "cli": round(startup, 3),
                                            "python_api_runs": [round(x, 3) for x in api],
                                            "cli_runs": [round(x, 3) for x in cli]},
        "model_files_bytes": {str(p.relative_to(args.model)): p.stat().st_size
                              for p in sorted(Path(args.model).rglob("*")) if p.is_file()},
        "machine": {**machine(), "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
    }
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
