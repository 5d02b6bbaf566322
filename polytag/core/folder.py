"""THE model-folder format, read without torch. A saved model is one self-describing folder:

    config.json        ModelConfig: architecture, heads, the full Hugging Face encoder config
    labels.json        label inventories (core.labels.Labels); labels.json.xz in the shipped folder
    tokenizer/         the Hugging Face tokenizer files (a meta-lstm folder has vocab.json instead)
    model.safetensors  weights: fp32, fp16, or int8 with one fp16 scale per row (stored under the
                       matrix's name + SCALE_SUFFIX); the ONNX backend reads the word-embedding
                       matrix from here too
    metadata.json      data sources and versions, commit, date, training time, dev scores, and the
                       history of the model a run continued (`lineage`)
    model.onnx         after `polytag export`: encoder + heads for ONNX Runtime
    onnx.json          what was exported, and which weights tensor is the embedding table
    lexicon.tsv.xz     optional: each form's UPOS and FEATS in the train splits (core.word_lexicon)
    segmenter/         optional: the raw-text segmenter (tagging.segmenter)

This module owns the file names, the one config dataclass, and checking and reading config,
labels and (fast) tokenizer. Writing weights and building torch models is `polytag.nn.model_io`.
"""

from __future__ import annotations

import json
import lzma
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import InputError
from .labels import Labels
from .word_lexicon import load_lexicon

CONFIG_FILE = "config.json"
LABELS_FILE = "labels.json"
LABELS_XZ = LABELS_FILE + ".xz"  # the shipped folder's (compact_labels)
TOKENIZER_DIR = "tokenizer"
META_VOCAB_FILE = "vocab.json"  # a meta-lstm's word and character vocabularies
WEIGHTS_FILE = "model.safetensors"
METADATA_FILE = "metadata.json"
ONNX_FILE = "model.onnx"
EXPORT_INFO = "onnx.json"
SCALE_SUFFIX = ".int8_row_scale"  # an int8 matrix's per-row fp16 scales are stored under name + this

# the files each architecture's folder must hold
REQUIRED_FILES = {
    "transformer": [CONFIG_FILE, LABELS_FILE, TOKENIZER_DIR, WEIGHTS_FILE],
    "meta-lstm": [CONFIG_FILE, LABELS_FILE, META_VOCAB_FILE, WEIGHTS_FILE],
}


@dataclass
class ModelConfig:
    """Everything needed to rebuild and run a model; saved as config.json beside its weights."""

    encoder: str = "minibert"  # a preset name, or the path/hub id the encoder came from
    encoder_config: dict = field(default_factory=dict)  # the HF config, saved in full
    max_len: int = 128  # wordpieces per window, [CLS] and [SEP] included
    dropout: float = 0.1
    morph_heads: list[str] = field(default_factory=lambda: ["bundle", "factored"])
    morph_decode: str = "bundle"
    arch: str = "transformer"
    word_pooling: str = "first"  # "first" (the paper) or "first+last" (see nn.transformer)
    word_chars: int = 0  # characters per word read by the character CNN, markers included; 0: none
    # treebank ids of an optional annotation-convention hint (a learned vector added to every
    # wordpiece embedding; id i is row i + 1, row 0 is "no hint"); empty: the model takes no hint
    treebank_hints: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


NO_HINT = 0  # the treebank-hint row that means "no hint"


def hint_rows(treebanks: list[str]) -> dict[str, int]:
    """Treebank id -> its row of the hint table: the config's order, after row 0 (NO_HINT)."""
    return {tb: i + 1 for i, tb in enumerate(treebanks)}


def treebank_hint_index(config: ModelConfig, treebank: str | None, other_ids: list[str] = ()) -> int:
    """The tagger's hint row of `treebank` (None: no hint). An id only the folder's segmenter
    or word lexicon knows (`other_ids`: see segmenter_hints, Tagger.other_hints) is "no hint" for
    the tagger; an id none knows is an error."""
    if treebank is None:
        return NO_HINT
    hints = getattr(config, "treebank_hints", None) or []
    if treebank in hints:
        return hint_rows(hints)[treebank]
    if treebank in other_ids:
        return NO_HINT
    known = sorted(set(hints) | set(other_ids))
    if not known:
        raise InputError(f"treebank hint {treebank!r}: this model was trained without treebank hints")
    raise InputError(f"treebank hint {treebank!r}: unknown (this model knows {', '.join(known)})")


def segmenter_hints(folder: str | Path) -> list[str]:
    """Treebank ids the model folder's raw-text segmenter takes as hints (empty: none, or no segmenter)."""
    try:
        config = json.loads((Path(folder) / "segmenter" / "segmenter.json").read_text(encoding="utf-8"))
        return list(config.get("treebank_hints") or [])
    except (OSError, ValueError, AttributeError, TypeError):
        return []  # no segmenter, or a broken one: loading it says so


def other_hints(folder: str | Path) -> list[str]:
    """Treebank ids the folder's segmenter or word lexicon takes and the network may not: a
    hint with one of them is accepted (see treebank_hint_index)."""
    lexicon = load_lexicon(folder)
    return list(dict.fromkeys([*segmenter_hints(folder), *(lexicon.treebanks if lexicon is not None else [])]))


def _arch(folder: Path) -> str:
    try:
        return json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8")).get("arch", "transformer")
    except (OSError, ValueError, AttributeError):
        return "transformer"  # a broken config is reported by load_config


def check_folder(folder, extra: tuple[str, ...] = ()) -> Path:
    """The folder, after checking it holds every file its architecture needs (and `extra`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: model folder not found")
    for name in [*REQUIRED_FILES.get(_arch(folder), REQUIRED_FILES["transformer"]), *extra]:
        if not (folder / name).exists() and not (name == LABELS_FILE and (folder / LABELS_XZ).exists()):
            hint = f" (run `polytag export --model {folder}`)" if name == ONNX_FILE else ""
            raise InputError(f"{folder}: model folder is missing {name}{hint}")
    return folder


def load_config(folder) -> ModelConfig:
    path = Path(folder) / CONFIG_FILE
    try:
        return ModelConfig(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as err:  # ValueError: bad JSON or not UTF-8
        raise InputError(f"{path}: not a polytag model config ({err})") from None


def labels_path(folder) -> Path:
    """labels.json, or labels.json.xz where only that is there."""
    plain, packed = Path(folder) / LABELS_FILE, Path(folder) / LABELS_XZ
    return packed if packed.exists() and not plain.exists() else plain


def compact_labels(folder) -> Path:
    """Replace labels.json by labels.json.xz (a twentieth of the size; read alike)."""
    labels = Labels.load(Path(folder) / LABELS_FILE)
    labels.save(Path(folder) / LABELS_XZ)
    (Path(folder) / LABELS_FILE).unlink()
    return Path(folder) / LABELS_XZ


def load_labels(folder) -> Labels:
    path = labels_path(folder)
    try:
        return Labels.load(path)
    except (OSError, EOFError, ValueError, KeyError, TypeError, lzma.LZMAError) as err:
        raise InputError(f"{path}: not a polytag label file ({err!r})") from None


class FastTokenizer:
    """A saved Hugging Face fast tokenizer (tokenizer/tokenizer.json + tokenizer_config.json)
    read with `tokenizers` alone: only what `encoding.WordPieces` needs."""

    def __init__(self, folder):
        from tokenizers import Tokenizer  # noqa: PLC0415

        folder = Path(folder)
        self.backend_tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # WordPieces asks for words without special tokens; a saved padding/truncation
        # setting must not apply to single words
        self.backend_tokenizer.no_padding()
        self.backend_tokenizer.no_truncation()
        specials: dict = {}
        for name in ("special_tokens_map.json", "tokenizer_config.json"):
            path = folder / name
            if path.exists():
                specials.update(json.loads(path.read_text(encoding="utf-8")))
        for role in ("cls", "sep", "pad", "unk", "bos", "eos", "mask"):
            token = specials.get(f"{role}_token")
            if isinstance(token, dict):  # {"content": "[CLS]", ...}
                token = token.get("content")
            setattr(self, f"{role}_token", token)
            setattr(self, f"{role}_token_id", self.backend_tokenizer.token_to_id(token) if token else None)

    def __len__(self) -> int:
        return self.backend_tokenizer.get_vocab_size(with_added_tokens=True)


def has_fast_tokenizer(folder) -> bool:
    return (Path(folder) / TOKENIZER_DIR / "tokenizer.json").exists()


def check_tokenizer_files(folder) -> None:
    """A tokenizer folder needs tokenizer.json (or a BERT vocab.txt, from which transformers builds
    one); without it transformers' own error talks about sentencepiece and tiktoken."""
    tok_dir = Path(folder) / TOKENIZER_DIR
    if not any((tok_dir / name).exists() for name in ("tokenizer.json", "vocab.txt")):
        raise InputError(f"{tok_dir}: missing tokenizer.json")


def load_fast_tokenizer(folder) -> FastTokenizer:
    tok_dir = Path(folder) / TOKENIZER_DIR
    try:
        return FastTokenizer(tok_dir)
    except Exception as err:  # tokenizers raises its own types for a broken file
        raise InputError(f"{tok_dir}: cannot load tokenizer ({err})") from None


# -- lineage: where a model came from --
def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def init_history(folder) -> dict | None:
    """How the --init model was trained (and what it was initialised from, recursively), so that
    a continued run's metadata tells its whole history."""
    path = Path(folder) / METADATA_FILE
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    keep = ("polytag_commit", "date", "training_seconds", "device", "epoch", "steps", "train_config",
            "initialised_from", "averaged_from")
    history = {k: meta[k] for k in keep if k in meta}
    history["dev_macro"] = {head: r["macro"] for head, r in (meta.get("dev") or {}).items() if "macro" in r}
    return history


def training_stages(metadata: dict) -> list[dict]:
    """The runs behind a model, first run first (each --init run continues the one before)."""
    chain = []
    while metadata:
        chain.append(metadata)
        metadata = metadata.get("initialised_from")
    return chain[::-1]


SAME_AS_FIRST = "same_as_first_branch"  # marks where an averaged branch's history joins the first's


def run_id(run: dict) -> tuple:
    """What identifies a run in histories (`polytag average` adds a "folder" that copies lack)."""
    return run.get("date"), run.get("steps"), run.get("training_seconds")


def share_history(branches: list[dict]) -> list[dict]:
    """The histories of averaged models with each later branch cut where it reaches a run that
    the first branch's history already tells: that run is kept as a mark (its id and
    SAME_AS_FIRST), so a chain of averages does not copy the shared history once per branch."""
    branches = [_share_nested(branch) for branch in branches]
    told = {run_id(run) for run in training_stages(branches[0])} if branches else set()
    out = branches[:1]
    for branch in branches[1:]:
        node = branch
        while isinstance(node.get("initialised_from"), dict):
            parent = node["initialised_from"]
            if run_id(parent) in told:
                node["initialised_from"] = {SAME_AS_FIRST: True, "date": parent.get("date"),
                                            "steps": parent.get("steps"),
                                            "training_seconds": parent.get("training_seconds")}  # fmt: skip
                break
            node = parent  # a copy (_share_nested): the input is kept
        out.append(branch)
    return out


def _share_nested(history: dict) -> dict:
    """A copy of `history` with the averages inside it (older ones) shared as well."""
    history = dict(history)
    node = history
    while isinstance(node, dict):
        if node.get("averaged_from"):
            node["averaged_from"] = share_history(node["averaged_from"])
        if not isinstance(node.get("initialised_from"), dict):
            break
        node["initialised_from"] = dict(node["initialised_from"])
        node = node["initialised_from"]
    return history


def branch_stages(branches: list[dict]) -> list[list[dict]]:
    """training_stages of each averaged branch, with the history `share_history` cut put back."""
    chains = [training_stages(branch) for branch in branches]
    for i, chain in enumerate(chains[1:], 1):
        if chain and chain[0].get(SAME_AS_FIRST):
            at = [k for k, run in enumerate(chains[0]) if run_id(run) == run_id(chain[0])]
            if not at:
                raise InputError(f"averaged branch {i}: its history refers to a run the first branch lacks")
            chains[i] = chains[0][: at[0] + 1] + chain[1:]
    return chains


def load_metadata(folder) -> dict:
    """metadata.json, or {} when the folder has none (a checkpoint, a hand-made folder)."""
    try:
        return json.loads((Path(folder) / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
