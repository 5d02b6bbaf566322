"""The speed table (paper Table 3) on this machine: runs `polytag bench` and writes
docs/results/bench.json, which scripts/make_results.py renders into docs/results.md.

    python benchmarks/bench_speed.py [--model DIR] [--dev FILE] [any other `polytag bench` option]

Defaults: the shipped model when present (else a random-weight MiniBERT), inputs from the
en_ewt dev file when present. Run it on an otherwise idle machine: every row is a wall-clock
measurement and the speedups compare rows measured one after the other.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from polytag.bench import machine, other_machines  # noqa: E402
OUT = ROOT / "docs" / "results" / "bench.json"
DEV = [ROOT.parent / "shared" / "ud" / "en_ewt" / "en_ewt-ud-dev.conllu.xz",
       Path("/work/shared/ud/en_ewt/en_ewt-ud-dev.conllu.xz")]


def main() -> int:
    args = sys.argv[1:]
    polytag = Path(sys.executable).with_name("polytag")
    polytag = str(polytag) if polytag.exists() else "polytag"
    if "-h" in args or "--help" in args:  # only the help: no run, and the JSON left as it is
        return subprocess.call([polytag, "bench", "--help"], cwd=ROOT)
    if "--dev" not in args:
        dev = next((p for p in DEV if p.exists()), None)
        if dev:
            args += ["--dev", str(dev)]
    if "--json" not in args:
        args += ["--json", str(OUT)]
    out = Path(args[args.index("--json") + 1])
    out.parent.mkdir(parents=True, exist_ok=True)
    before = out.stat().st_mtime_ns if out.exists() else None
    earlier = other_machines(out, machine())  # read before the run replaces the file
    rc = subprocess.call([polytag, "bench", *args], cwd=ROOT)
    if rc == 0 and out.exists() and out.stat().st_mtime_ns != before:  # stamp only a table this run wrote
        data = json.loads(out.read_text(encoding="utf-8"))
        data["command"] = "python benchmarks/bench_speed.py " + " ".join(sys.argv[1:])
        # the tables of other CPUs measured before stay beside this one (polytag.bench.other_machines)
        data["other_machines"] = [{k: r[k] for k in ("machine", "markdown", "command") if k in r}
                                  for r in earlier]
        out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
