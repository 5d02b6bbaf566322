"""`polytag corpus`: NFC + length filter, exact de-duplication, temperature balancing with caps,
train text only, compressed inputs, and streaming under a memory budget."""

from __future__ import annotations

import gzip
import json
import lzma
import unicodedata

import numpy as np
import pytest

from polytag.cli import main
from polytag.training.corpus import (
    CorpusConfig,
    DigestSet,
    balance,
    build_corpus,
    read_shard,
    shard_paths,
)


def read_all(folder) -> list[tuple[str, str]]:
    return [(lang, " ".join(words)) for path in shard_paths(folder) for lang, words in read_shard(path)]


def test_filters_and_dedupes(tmp_path):
    decomposed = unicodedata.normalize("NFD", "Ça a été très bien fait")
    lines = [
        "short one",  # 9 characters: dropped
        "exactly10!",  # 10: kept
        "Ça a été très bien fait",
        decomposed,  # the same after NFC: a duplicate
        "  spaced    out   sentence  ",  # whitespace collapsed
        "spaced out sentence",  # ... so this is a duplicate
        "",
        "A distinct sentence here.",
    ]
    (tmp_path / "fr.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with gzip.open(tmp_path / "de.txt.gz", "wt", encoding="utf-8") as f:
        f.write("Ein deutscher Satz hier.\nEin deutscher Satz hier.\nkurz\n")
    with lzma.open(tmp_path / "fr2.txt.xz", "wt", encoding="utf-8") as f:
        f.write("A distinct sentence here.\nNoch ein Satz, aber als fr.\n")  # cross-file duplicate
    out = tmp_path / "corpus"
    rc = main(["corpus", str(out), "--text", f"fr:{tmp_path / 'fr.txt'}", "--text", f"de:{tmp_path / 'de.txt.gz'}",
               "--text", f"fr:{tmp_path / 'fr2.txt.xz'}", "--shard-size", "2"])
    assert rc == 0
    got = read_all(out)
    assert sorted(got) == sorted([
        ("fr", "exactly10!"), ("fr", unicodedata.normalize("NFC", "Ça a été très bien fait")),
        ("fr", "spaced out sentence"), ("fr", "A distinct sentence here."), ("de", "Ein deutscher Satz hier."),
        ("fr", "Noch ein Satz, aber als fr."),
    ])
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    fr, de = manifest["languages"]["fr"], manifest["languages"]["de"]
    assert (fr["input_sentences"], fr["too_short"], fr["duplicates"], fr["sentences"]) == (10, 2, 3, 5)
    assert (de["input_sentences"], de["too_short"], de["duplicates"], de["sentences"]) == (3, 1, 1, 1)
    assert fr["words"] == 1 + 6 + 3 + 4 + 6
    assert len(manifest["shards"]) == 3 and sum(s["sentences"] for s in manifest["shards"]) == 6


def test_digest_set_is_exact_across_runs():
    seen = DigestSet()
    rng = np.random.default_rng(0)
    all_values = rng.integers(-2**63, 2**63 - 1, 5000, dtype=np.int64)
    firsts = set()
    for chunk in np.array_split(np.concatenate([all_values, all_values[:2000]]), 37):
        new = seen.add_new(chunk)
        for v, is_new in zip(chunk.tolist(), new):
            assert is_new == (v not in firsts)
            firsts.add(v)
    assert len(seen) == 5000 and len(seen.runs) < 15


def test_balance_temperature_caps_and_upsampling():
    counts = {"big": 10000, "mid": 1000, "small": 10}
    # no cap: everything, once
    assert balance(counts, 0.5, None, None, 1.0) == counts
    # total cap with alpha=0.5: shares ~ sqrt(n) (100 : 31.6 : 3.16), small keeps all it has
    got = balance(counts, 0.5, 3000, None, 1.0)
    assert sum(got.values()) == 3000
    assert got["small"] == 10
    assert got["big"] / got["mid"] == pytest.approx(100 / 31.62, rel=0.02)
    # alpha=1 is proportional
    got = balance(counts, 1.0, 1101, None, 1.0)
    assert sum(got.values()) == 1101 and abs(got["big"] - 1000) <= 1 and abs(got["mid"] - 100) <= 1
    # per-language cap, and upsampling small languages up to 3x
    got = balance(counts, 0.5, None, 500, 3.0)
    assert got == {"big": 500, "mid": 500, "small": 30}


def test_balanced_corpus_on_disk(tmp_path):
    (tmp_path / "a.txt").write_text("".join(f"sentence number {i} in a\n" for i in range(400)), encoding="utf-8")
    (tmp_path / "b.txt").write_text("".join(f"sentence number {i} in b\n" for i in range(25)), encoding="utf-8")
    out = tmp_path / "corpus"
    m = build_corpus(CorpusConfig(output=str(out), texts=[f"a:{tmp_path / 'a.txt'}", f"b:{tmp_path / 'b.txt'}"],
                                  temperature=2.0, max_sentences=150, max_upsample=2.0, shard_size=40))
    got = read_all(out)
    per = {l: sum(1 for g in got if g[0] == l) for l in "ab"}
    # shares ~ n ** 0.5 = 20 : 5 -> 120 : 30, and b (25 sentences) may be repeated up to 2x
    assert per == {"a": 120, "b": 30}
    assert m["languages"]["b"]["selected_sentences"] == 30
    assert len({s for l, s in got if l == "a"}) == 120  # sampled without replacement
    assert len({s for l, s in got if l == "b"}) == 25  # every b sentence once, 5 of them twice
    # shards are shuffled across languages
    first = [l for l, _ in read_shard(shard_paths(out)[0])]
    assert "a" in first and "b" in first


def test_train_text_only(tmp_path):
    ud = tmp_path / "ud" / "UD_Xx-Tiny"
    ud.mkdir(parents=True)

    def conllu(words):
        return "".join(f"{i}\t{w}\t_\tX\t_\t_\t0\troot\t_\t_\n" for i, w in enumerate(words.split(), 1)) + "\n"

    (ud / "xx_tiny-ud-train.conllu").write_text(conllu("this is train text"), encoding="utf-8")
    (ud / "xx_tiny-ud-dev.conllu").write_text(conllu("this is dev text"), encoding="utf-8")
    (ud / "xx_tiny-ud-test.conllu").write_text(conllu("this is test text"), encoding="utf-8")
    out = tmp_path / "corpus"
    assert main(["corpus", str(out), "--ud", str(tmp_path / "ud")]) == 0
    assert read_all(out) == [("xx", "this is train text")]


def test_streams_a_file_larger_than_the_memory_budget(tmp_path):
    big = tmp_path / "big.txt.gz"
    n = 20000
    with gzip.open(big, "wt", encoding="utf-8") as f:
        for i in range(n):
            f.write(f"line {i} of a file that is larger than the memory budget, padded {'x' * (i % 17)}\n")
            if i % 10 == 0:
                f.write(f"line {i} of a file that is larger than the memory budget, padded {'x' * (i % 17)}\n")
    size = n * 75
    budget_mb = 0.1  # ~100 KB, against ~1.5 MB of text
    assert size > 10 * budget_mb * 2**20
    out = tmp_path / "corpus"
    m = build_corpus(CorpusConfig(output=str(out), texts=[f"en:{big}"], memory_mb=budget_mb))
    assert m["languages"]["en"]["duplicates"] == n // 10
    assert m["total"]["sentences"] == n
    assert m["peak_buffer_bytes"] <= budget_mb * 2**20
    assert len(m["shards"]) > 1  # shards sized to the budget, not to shard_size
    assert len(read_all(out)) == n
