"""`polytag bench`: the paper's Table 3 (speed of the MiniBERT student vs BERT-base and the
Meta-LSTM) measured on this machine, in one run, on the same inputs with the same threads.

    polytag bench [--model DIR] [--dev FILE.conllu] [--json OUT] [--quick]

Rows: every system x thread count (1 and 2; one "gpu" row per torch system when CUDA is
present), for 32-word and 128-word inputs:

- batch 1: latency per sentence (p50 / p95 ms) of `tag([sentence])`, all of polytag's work
  included (wordpieces, windows, decoding);
- batched: words/s of `tag(batch)` with `--batch-size` sentences per call (median over calls);
- speedups over BERT-base (and over the Meta-LSTM, when that system ran) for both;
- parameters, size on disk of the weights, load time and peak RSS of the process.

Each (system, threads) pair runs in a fresh worker process (`python -m polytag.bench --worker
SPEC`), so peak RSS is that system's alone and thread settings cannot leak between rows; an
ONNX worker never imports torch, as in serving.

Systems (`--systems`, default all that can run):

    bert-base          PyTorch fp32, 12 layers, hidden 768, vocabulary 119,547, random weights
                       (timing does not depend on the weights); the student's labels, tokenizer and
                       window size, so it sees exactly the same wordpiece sequences as the student
    student-torch      the MiniBERT student with PyTorch fp32
    student-onnx-fp32  the student exported to ONNX (fused, fp32)
    student-onnx-int8  the student exported to ONNX with int8 dynamic quantization (serving default)
    meta-lstm          the Meta-LSTM baseline, when `polytag.meta_lstm.bench_system` exists

The student is `--model DIR`; else the shipped default model when present; else a random-weight
MiniBERT (vocabulary 24,000, a label inventory the size of the default model's) with a small
WordPiece vocabulary trained on the benchmark words. The student folder is copied to a temporary
folder and exported there, so the model folder is never written to.

Plugging in another system: add a `System` to SYSTEMS whose `build(spec)` runs inside the worker
and returns (tag, info): `tag(list of word lists)` tags a batch, `info` has "parameters" and
"disk_bytes". The Meta-LSTM system calls, inside its worker,

    polytag.meta_lstm.bench_system(model: str | Path | None = None, threads: int = 1,
                                   batch_size: int = 32, preset: str = "meta-lstm")
        -> (tag, parameter_count)

where `model` is a meta-lstm model folder (`--meta-lstm-model`) or None for random weights of the
preset's sizes, `tag` is `Tagger.tag`-like and `batch_size` is sentences per forward pass.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

BERT_VOCAB = 119_547  # multilingual BERT's vocabulary, as in the paper
STUDENT_VOCAB = 24_000  # the default model's measured vocabulary size
# a label inventory the size of the default model's (bundles; features x values)
SYNTHETIC_BUNDLES, SYNTHETIC_FEATURES, SYNTHETIC_VALUES = 10_303, 77, 38

# Real words in several languages and scripts, for inputs when no --dev file is given.
WORDS = """
the of and to in is was for that with as on by at from his her they this which are were be has
have had not but one all their there been would who when what also into more its only some other
der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als auch es an
le la les de des et en un une du est pour qui dans par sur pas plus au avec son ce elle
el la de que y en los del se las por un para con no una su al es lo como más pero sus
в и не на я что он с как а то все она так его но да ты к у же вы за бы по только ее мне было
ir kad jis tai su į buvo iš bet kaip jo ar yra dar taip jau nuo apie savo kai būti labai mes
і ў на не што з да як гэта ён яго але быў па яна было іх мы вы для толькі пасля таксама
και το της η ο να του τα με σε για από την που είναι στο θα δεν οι ένα μια στην
は の に を た が で て と し れ さ ある いる も する から な こと として い や など
的 一 是 不 了 人 在 有 我 他 这 中 大 来 上 国 个 到 说 们 为 子 和 你 地 出 道 也 时 年
और के है में की से को का एक यह पर था कि ने हैं भी तो कर हो गया लिए साथ
ve bir bu da ile için de ne çok daha gibi olarak kadar sonra ama her ise
. , ? ! : ; ( ) " - 1 2 3 10 2019 100
""".split()


@dataclass
class System:
    key: str
    label: str
    backend: str  # torch | onnx: how the worker is set up
    build: Callable  # build(spec) -> (tag, info), inside the worker
    gpu: bool = False  # also measured on CUDA when present


# ---------------------------------------------------------------- systems (run inside the worker)

def _tokenizer(folder: Path):
    from .core.folder import TOKENIZER_DIR, has_fast_tokenizer, load_fast_tokenizer  # noqa: PLC0415

    if has_fast_tokenizer(folder):
        return load_fast_tokenizer(folder)
    from .nn.model_io import load_tokenizer  # noqa: PLC0415

    return load_tokenizer(folder / TOKENIZER_DIR)


def build_reference(spec: dict):
    import torch  # noqa: PLC0415

    from .core.folder import ModelConfig, load_config, load_labels  # noqa: PLC0415
    from .nn.transformer import TaggerModel, count_parameters, preset_encoder_config  # noqa: PLC0415
    from .tagging.tagger import Tagger  # noqa: PLC0415
    from .tagging.torch_backend import TorchBackend  # noqa: PLC0415

    folder = Path(spec["folder"])
    student = load_config(folder)
    labels = load_labels(folder)
    torch.manual_seed(0)
    config = ModelConfig(encoder=spec["reference"], max_len=student.max_len, morph_heads=[student.morph_decode],
                         morph_decode=student.morph_decode,
                         encoder_config=preset_encoder_config(spec["reference"], BERT_VOCAB, student.max_len))
    model = TaggerModel(config, labels).eval().to(spec["device"])
    tagger = Tagger(TorchBackend(model, spec["device"]), _tokenizer(folder), labels, config, spec["batch_size"])
    n = count_parameters(model)
    return tagger.tag, {"parameters": n, "disk_bytes": 4 * n, "disk_note": "fp32 weights (not written)"}


def build_student_torch(spec: dict):
    from .nn.transformer import count_parameters  # noqa: PLC0415
    from .tagging import load  # noqa: PLC0415

    folder = Path(spec["folder"])
    tagger = load(folder, device=spec["device"], batch_size=spec["batch_size"], backend="torch",
                         threads=spec["threads"])
    return tagger.tag, {"parameters": count_parameters(tagger.backend.model),
                        "disk_bytes": (folder / "model.safetensors").stat().st_size}


def _build_onnx(spec: dict, file: str):
    from .core.folder import load_config, load_labels  # noqa: PLC0415
    from .tagging.onnx_backend import OnnxBackend  # noqa: PLC0415
    from .tagging.tagger import Tagger  # noqa: PLC0415

    folder = Path(spec["folder"])
    tokenizer, labels, config = _tokenizer(folder), load_labels(folder), load_config(folder)
    backend = OnnxBackend(folder, threads=spec["threads"], file=file)
    tagger = Tagger(backend, tokenizer, labels, config, spec["batch_size"])
    # the graph plus the word-embedding rows it reads from model.safetensors
    return tagger.tag, {"parameters": spec.get("student_parameters"),
                        "disk_bytes": (folder / file).stat().st_size + backend.embeddings.nbytes}


def build_student_onnx_fp32(spec: dict):
    return _build_onnx(spec, "model.fp32.onnx")


def build_student_onnx_int8(spec: dict):
    return _build_onnx(spec, "model.onnx")


def build_meta_lstm(spec: dict):
    from .tagging.meta_lstm import bench_system  # noqa: PLC0415

    tag, n = bench_system(model=spec.get("meta_model"), threads=spec["threads"], batch_size=spec["batch_size"])
    model = spec.get("meta_model")
    disk = (Path(model) / "model.safetensors").stat().st_size if model else 4 * n
    return tag, {"parameters": n, "disk_bytes": disk, **({} if model else {"disk_note": "fp32 weights (not written)"})}


SYSTEMS = [
    System("bert-base", "BERT-base (PyTorch fp32)", "torch", build_reference, gpu=True),
    System("meta-lstm", "Meta-LSTM (PyTorch fp32)", "torch", build_meta_lstm),
    System("student-torch", "MiniBERT (PyTorch fp32)", "torch", build_student_torch, gpu=True),
    System("student-onnx-fp32", "MiniBERT (ONNX fp32)", "onnx", build_student_onnx_fp32),
    System("student-onnx-int8", "MiniBERT (ONNX int8)", "onnx", build_student_onnx_int8),
]
BY_KEY = {s.key: s for s in SYSTEMS}


def meta_lstm_available() -> bool:
    try:
        from .tagging.meta_lstm import bench_system  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------- measuring (inside the worker)

def rss_mb(field: str = "VmRSS") -> float:
    """Resident set size now (VmRSS) or at its peak (VmHWM), MiB. Not ru_maxrss: Linux carries
    that over from the parent process across fork + exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    if field == "VmHWM":
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def measure(tag, sentences: list[list[str]], batch_size: int, seconds: float, min_samples: int,
            max_samples: int = 2000) -> dict:
    """Batch-1 latency over distinct sentences (cycled): at least `min_samples` calls and
    `seconds`; then batched throughput: at least 2 batches (1 in quick mode) and `seconds`
    (a BERT-base batch of 32 x 128 words takes tens of seconds on one core)."""
    clock = time.perf_counter
    for s in sentences[:3]:  # warm-up: allocations, wordpiece cache, lazy init
        tag([s])
    times = []
    start = clock()
    while len(times) < max_samples and (len(times) < min_samples or clock() - start < seconds):
        s = sentences[len(times) % len(sentences)]
        t0 = clock()
        tag([s])
        times.append(clock() - t0)
    batches = [sentences[i : i + batch_size] for i in range(0, len(sentences) - batch_size + 1, batch_size)]
    batches = batches or [sentences]
    min_batches = 1 if min_samples < 3 else 2  # no warm-up batch: the latency loop warmed up
    rates = []
    start = clock()
    while len(rates) < max_samples and (len(rates) < min_batches or clock() - start < seconds):
        batch = batches[len(rates) % len(batches)]
        t0 = clock()
        tag(batch)
        rates.append(sum(map(len, batch)) / (clock() - t0))
    return {
        "latency_ms": {"p50": round(1000 * percentile(times, 0.5), 3), "p95": round(1000 * percentile(times, 0.95), 3),
                       "n": len(times)},
        "words_per_s": round(statistics.median(rates), 1), "batches": len(rates),
        "batch_size": len(batches[0]),
    }


def worker(spec: dict) -> dict:
    """Build one system with the given threads and measure it on every input length."""
    threads = spec["threads"]
    if BY_KEY[spec["system"]].backend == "torch":
        import torch  # noqa: PLC0415

        torch.set_num_threads(threads)
    inputs = json.loads(Path(spec["inputs"]).read_text(encoding="utf-8"))
    before = rss_mb()
    t0 = time.perf_counter()
    tag, info = BY_KEY[spec["system"]].build(spec)
    load_s = time.perf_counter() - t0
    loaded = rss_mb()
    results = {length: measure(tag, sents, spec["batch_size"], spec["seconds"], spec["min_samples"])
               for length, sents in inputs.items()}
    peak = rss_mb("VmHWM")
    return {"system": spec["system"], "threads": threads, "device": spec["device"], **info,
            "load_s": round(load_s, 3), "rss_before_load_mb": round(before, 1), "rss_loaded_mb": round(loaded, 1),
            "peak_rss_mb": round(peak, 1), "results": results}


def run_worker(spec: dict, in_process: bool) -> dict:
    if in_process:
        return worker(spec)
    env = {**os.environ, "OMP_NUM_THREADS": str(spec["threads"]), "MKL_NUM_THREADS": str(spec["threads"]),
           "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, "-m", "polytag.bench", "--worker", json.dumps(spec)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
        return {"system": spec["system"], "threads": spec["threads"], "device": spec["device"], "error": tail[0]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- preparing (parent process)

def make_inputs(lengths: list[int], n: int, dev: str | None, seed: int = 0) -> tuple[dict[str, list], str]:
    """n sentences of exactly L words for each L: consecutive real words of the dev file
    (sentences joined), or words drawn from the built-in list."""
    if dev:
        from .core.conllu_io import read_conllu  # noqa: PLC0415

        stream, need = [], max(lengths) * n
        for sentence in read_conllu(dev):
            stream += sentence.words
            if len(stream) >= need:
                break
        source = f"words of {dev}"
    else:
        rng = random.Random(seed)
        stream = [rng.choice(WORDS) for _ in range(max(lengths) * n)]
        source = "built-in word list (random draws)"
    if not stream:
        raise ValueError(f"{dev}: no words")
    out = {}
    for length in lengths:
        sents, i = [], 0
        while len(sents) < n:
            sents.append([stream[(i + k) % len(stream)] for k in range(length)])
            i += length
        out[str(length)] = sents
    return out, source


def synthetic_labels():
    from .core.labels import NONE, Labels  # noqa: PLC0415

    features = {f"Feat{j}": [NONE] + [f"v{k}" for k in range(1 + (j * 7) % (SYNTHETIC_VALUES - 1))]
                for j in range(SYNTHETIC_FEATURES)}
    bundles = ["_"] + [f"Feat{i % SYNTHETIC_FEATURES}=v0|Id={i}" for i in range(SYNTHETIC_BUNDLES - 1)]
    return Labels(bundles=bundles, features=features)


def random_student(folder: Path, text: list[str], preset: str = "minibert") -> None:
    """A random-weight student folder: WordPiece vocabulary trained on the benchmark text."""
    import torch  # noqa: PLC0415

    from .core.folder import ModelConfig  # noqa: PLC0415
    from .nn.model_io import save_model  # noqa: PLC0415
    from .nn.transformer import TaggerModel, preset_encoder_config  # noqa: PLC0415
    from .training.vocab import train_wordpiece  # noqa: PLC0415

    torch.manual_seed(0)
    # a small vocabulary, so that words split into several pieces as real text does
    tokenizer = train_wordpiece({"xx": text}, vocab_size=600, seed=0)
    config = ModelConfig(encoder=preset, encoder_config=preset_encoder_config(preset, STUDENT_VOCAB, 128),
                         max_len=128, morph_heads=["bundle", "factored"], morph_decode="bundle")
    save_model(folder, TaggerModel(config, synthetic_labels()).eval(), tokenizer, synthetic_labels(),
               metadata={"note": "random weights, for timing only"})


def prepare_student(model: str | None, work: Path, text: list[str], quick: bool) -> tuple[Path, dict]:
    """-> a folder with model.safetensors (when available), model.onnx (int8), model.fp32.onnx."""
    from . import DEFAULT_MODEL  # noqa: PLC0415

    folder = work / "student"
    source = Path(model) if model else (DEFAULT_MODEL if (DEFAULT_MODEL / "config.json").exists() else None)
    if source is None:
        random_student(folder, text, "tiny" if quick else "minibert")
        desc = {"student": "random weights" + (" (tiny, --quick)" if quick else " (MiniBERT preset)")}
    else:
        folder.mkdir(parents=True)
        for name in ("config.json", "labels.json", "labels.json.xz", "tokenizer", "model.safetensors", "model.onnx",
                     "model.fp32.onnx", "onnx.json"):
            src = source / name
            if src.is_dir():
                shutil.copytree(src, folder / name)
            elif src.exists():
                shutil.copyfile(src, folder / name)
        desc = {"student": str(source)}
    if (folder / "model.safetensors").exists():
        from .nn.model_io import load_model  # noqa: PLC0415
        from .nn.transformer import count_parameters  # noqa: PLC0415
        from .training.export import export  # noqa: PLC0415

        info = export(folder, fp32=False, keep_fp32=True, check=False)
        desc["onnx_export"] = {k: info[k] for k in ("outputs", "fused")}
        desc["student_parameters"] = count_parameters(load_model(folder)[0])
    else:  # an ONNX-only folder: time what is there
        desc["student_parameters"] = None
    return folder, desc


def fertility(folder: Path, inputs: dict) -> float:
    from .core.encoding import WordPieces  # noqa: PLC0415

    wp = WordPieces(_tokenizer(folder))
    words = [w for sents in inputs.values() for s in sents for w in s]
    return round(sum(map(len, wp.pieces(words))) / max(len(words), 1), 3)


# CPU features that decide ONNX Runtime's int8 speed: VNNI does int8 dot products in one
# instruction; with AVX2 alone its u8s8 kernels take slower (and saturating) 16-bit steps
SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")


def machine() -> dict:
    """The machine a speed was measured on: CPU model and int8-relevant features, versions."""
    info = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and "cpu" not in info:
                info["cpu"] = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and "isa" not in info:
                flags = set(line.split(":", 1)[1].split())
                info["isa"] = [f for f in SPEED_FLAGS if f in flags]
        info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    for name in ("torch", "onnxruntime", "transformers"):  # installed versions, without importing
        try:
            info[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return info


def cpu_label(info: dict) -> str:
    """A speed record's machine as one string: CPU model and its int8 features (SPEED_FLAGS)."""
    features = ", ".join(info["isa"]) if "isa" in info else "features not recorded"
    return f"{info.get('cpu', 'CPU not recorded')} ({features})"


def other_machines(path: Path, this: dict) -> list[dict]:
    """Of the speed record in `path` (its main record and its "other_machines"; none if the file
    is missing or unreadable), the latest record of each CPU other than `this` machine's: figures
    of different machines stay apart."""
    try:
        before = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    records = [{k: v for k, v in before.items() if k != "other_machines"}, *before.get("other_machines", [])]
    kept: dict[str, dict] = {}
    for record in records:
        label = cpu_label(record.get("machine", {}))
        if record and label != cpu_label(this) and label not in kept:
            kept[label] = record
    return list(kept.values())


def cuda_available() -> bool:
    try:
        import torch  # noqa: PLC0415

        return torch.cuda.is_available()
    except ImportError:
        return False


# ---------------------------------------------------------------- report

def add_speedups(rows: list[dict]) -> None:
    """Speedups over BERT-base and the Meta-LSTM measured with the same threads/device and length."""
    refs = {}
    for r in rows:
        if r["system"] in ("bert-base", "meta-lstm") and "results" in r:
            refs[(r["system"], r["threads"], r["device"])] = r["results"]
    for r in rows:
        for length, res in r.get("results", {}).items():
            for ref in ("bert-base", "meta-lstm"):
                base = refs.get((ref, r["threads"], r["device"]), {}).get(length)
                key = "bert" if ref == "bert-base" else "meta_lstm"
                if base:
                    res[f"latency_speedup_vs_{key}"] = round(base["latency_ms"]["p50"] / res["latency_ms"]["p50"], 2)
                    res[f"throughput_speedup_vs_{key}"] = round(res["words_per_s"] / base["words_per_s"], 2)


def markdown(data: dict) -> str:
    """Two tables: speed (Table 3 style) and size/memory."""
    rows = data["rows"]
    fmt = lambda v, spec="": "–" if v is None else format(v, spec)  # noqa: E731
    speed = ["| system | threads | words | batch-1 p50 ms | p95 ms | × BERT | × Meta-LSTM | batched words/s "
             "| × BERT | × Meta-LSTM |", "|---|---|---|---|---|---|---|---|---|---|"]
    sizes = ["| system | threads | parameters | size on disk MB | load s | RSS after load MB | peak RSS MB |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        label = BY_KEY[r["system"]].label if r["system"] in BY_KEY else r["system"]
        where = "GPU" if r["device"] != "cpu" else r["threads"]
        if "error" in r:
            speed.append(f"| {label} | {where} | – | failed: {r['error'][:80]} | | | | | | |")
            continue
        for length, res in r["results"].items():
            speed.append(
                f"| {label} | {where} | {length} | {res['latency_ms']['p50']:.2f} | {res['latency_ms']['p95']:.2f} "
                f"| {fmt(res.get('latency_speedup_vs_bert'), '.1f')} | {fmt(res.get('latency_speedup_vs_meta_lstm'), '.1f')} "
                f"| {res['words_per_s']:,.0f} | {fmt(res.get('throughput_speedup_vs_bert'), '.1f')} "
                f"| {fmt(res.get('throughput_speedup_vs_meta_lstm'), '.1f')} |")
        params = r.get("parameters")
        sizes.append(f"| {label} | {where} | {fmt(params, ',')} | {r['disk_bytes'] / 1e6:.1f} | {r['load_s']:.2f} "
                     f"| {r['rss_loaded_mb']:.0f} | {r['peak_rss_mb']:.0f} |")
    return "\n".join(speed) + "\n\n" + "\n".join(sizes) + "\n"


# ---------------------------------------------------------------- driver

def bench(model: str | None = None, dev: str | None = None, systems: list[str] | None = None,
          lengths: tuple[int, ...] = (32, 128), threads: tuple[int, ...] = (1, 2), batch_size: int = 32,
          seconds: float | None = None, quick: bool = False, gpu: bool = True, meta_lstm_model: str | None = None,
          reference: str = "bert-base", in_process: bool = False, log=print) -> dict:
    seconds = seconds if seconds is not None else (0.05 if quick else 5.0)
    min_samples = 2 if quick else 10
    n_sentences = batch_size * (1 if quick else 4)
    available = [s.key for s in SYSTEMS if s.key != "meta-lstm" or meta_lstm_available()]
    systems = systems or available
    unknown = [s for s in systems if s not in BY_KEY]
    if unknown:
        raise ValueError(f"unknown system {unknown[0]!r} (known: {', '.join(BY_KEY)})")
    inputs, source = make_inputs(list(lengths), n_sentences, dev)
    with tempfile.TemporaryDirectory(prefix="polytag-bench-") as tmp:
        work = Path(tmp)
        text = [" ".join(s) for sents in inputs.values() for s in sents]
        folder, student = prepare_student(model, work, text, quick)
        (work / "inputs.json").write_text(json.dumps(inputs, ensure_ascii=False), encoding="utf-8")
        base = {"folder": str(folder), "inputs": str(work / "inputs.json"), "batch_size": batch_size,
                "seconds": seconds, "min_samples": min_samples, "reference": reference,
                "student_parameters": student.get("student_parameters"), "meta_model": meta_lstm_model}
        plan = [(key, t, "cpu") for key in systems for t in threads]
        if gpu and cuda_available():
            plan += [(key, 1, "cuda") for key in systems if BY_KEY[key].gpu]
        rows = []
        for key, t, device in plan:
            if key == "student-torch" and not (folder / "model.safetensors").exists():
                continue
            if key == "student-onnx-fp32" and not (folder / "model.fp32.onnx").exists():
                continue
            log(f"bench: {key} threads={t} device={device}", file=sys.stderr)
            row = run_worker({**base, "system": key, "threads": t, "device": device}, in_process)
            if "error" in row:
                log(f"bench: {key} failed: {row['error']}", file=sys.stderr)
            rows.append(row)
        data = {
            "machine": machine(),
            "setup": {"lengths": list(lengths), "threads": list(threads), "batch_size": batch_size,
                      "seconds_per_measurement": seconds, "quick": quick, "inputs": source,
                      "sentences_per_length": n_sentences, "wordpieces_per_word": fertility(folder, inputs),
                      "reference": reference, **student},
            "rows": rows,
        }
    add_speedups(rows)
    data["markdown"] = markdown(data)
    return data


def run_from_args(args) -> None:
    ints = lambda s: tuple(int(x) for x in s.split(",") if x.strip())  # noqa: E731
    data = bench(model=args.model, dev=args.dev, systems=args.systems.split(",") if args.systems else None,
                 lengths=ints(args.lengths), threads=ints(args.threads), batch_size=args.batch_size,
                 seconds=args.seconds, quick=args.quick, gpu=not args.no_gpu,
                 meta_lstm_model=args.meta_lstm_model, reference=getattr(args, "reference", "bert-base"),
                 in_process=getattr(args, "in_process", False))
    data["command"] = "polytag " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("polytag") else None
    print(data["markdown"])
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="polytag bench worker (internal)")
    parser.add_argument("--worker", required=True, help="JSON spec")
    result = worker(json.loads(parser.parse_args().worker))
    print(json.dumps(result))
