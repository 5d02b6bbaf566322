"""The tagger network: a Hugging Face encoder plus linear heads on each word's first wordpiece.

Heads: UPOS (17), morphology as whole bundles ("bundle"), and/or one classifier per
feature with a "not present" value ("factored"). Both morphology heads may be trained
together; `morph_decode` says which one produces FEATS at prediction time.

Word vector: the first wordpiece's state (`word_pooling="first"`, the paper), or that plus a
learned projection of the last wordpiece's state (`"first+last"`): in suffixing languages the
inflection sits in a word's last piece, which a 3-layer encoder does not fully mix into the first.
Either may add a character CNN's vector of the word (`word_chars` > 0, see `CharWordEncoder`): the
shared wordpiece vocabulary splits rare words of 46 languages into arbitrary pieces, while
prefixes and suffixes, which carry most morphology, are plain in the characters.

An optional treebank hint (`treebank_hints` in the config): one learned vector per training
treebank added to every wordpiece embedding, so the encoder can follow that treebank's annotation
conventions (fr_sequoia and fr_gsd annotate French differently). Row 0 means "no hint" and is
what the model sees for text of unknown origin; training drops the hint at random so that
both work. The ONNX graph starts after the embedding lookup, so serving adds the same vector to
the looked-up embeddings outside it (tagging.onnx_backend).
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, BertConfig

from ..core.encoding import CHAR_BUCKETS, check_word_chars
from ..core.folder import NO_HINT, ModelConfig, hint_rows
from ..core.labels import Labels
from .heads import add_heads, head_logits

# The paper's student and teacher sizes (Tsai et al. 2019, sec. 3).
PRESETS = {
    "minibert": dict(num_hidden_layers=3, hidden_size=256, num_attention_heads=4, intermediate_size=1024),
    "bert-base": dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12, intermediate_size=3072),
    # for tests and smoke runs
    "tiny": dict(num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=64),
}


def preset_encoder_config(preset: str, vocab_size: int, max_len: int) -> dict:
    if preset not in PRESETS:
        raise ValueError(f"unknown encoder preset {preset!r} (known: {', '.join(PRESETS)})")
    cfg = BertConfig(
        vocab_size=vocab_size,
        max_position_embeddings=max(512, max_len),
        **PRESETS[preset],
    )
    return cfg.to_dict()


def build_encoder(encoder_config: dict, pretrained: str | None = None) -> nn.Module:
    """An encoder from a saved config (random init) or from a checkpoint path / hub id."""
    if pretrained:
        try:
            return AutoModel.from_pretrained(pretrained, add_pooling_layer=False)
        except TypeError:
            return AutoModel.from_pretrained(pretrained)
    cfg = AutoConfig.for_model(**encoder_config)
    try:
        return AutoModel.from_config(cfg, add_pooling_layer=False)
    except TypeError:
        return AutoModel.from_config(cfg)


WORD_POOLINGS = ("first", "first+last")


class CharWordEncoder(nn.Module):
    """A word's character ids (n_words, max_chars) -> (n_words, hidden): convolutions of widths
    2-5 over character embeddings, max-pooled over the word (Kim et al. 2016), then projected.
    The projection starts at zero, so adding this to a trained model changes no prediction
    until fine-tuning moves it."""

    def __init__(self, hidden: int, buckets: int = CHAR_BUCKETS, dim: int = 64, filters: int = 64,
                 widths: tuple[int, ...] = (2, 3, 4, 5)):
        super().__init__()
        self.embed = nn.Embedding(buckets, dim, padding_idx=0)
        self.convs = nn.ModuleList(nn.Conv1d(dim, filters, w) for w in widths)
        self.project = nn.Linear(filters * len(widths), hidden)
        nn.init.zeros_(self.project.weight)
        nn.init.zeros_(self.project.bias)

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        x = self.embed(chars).transpose(1, 2)  # (n_words, dim, max_chars)
        # rows are always max_chars long (padded the same way in training and tagging), so
        # the padding needs no mask: it is part of what the filters see
        pooled = [torch.relu(conv(x)).amax(-1) for conv in self.convs]
        return self.project(torch.cat(pooled, -1))


class TaggerModel(nn.Module):
    def __init__(self, config: ModelConfig, labels: Labels, pretrained: str | None = None):
        super().__init__()
        self.config = config
        self.encoder = build_encoder(config.encoder_config, pretrained)
        if pretrained:
            config.encoder_config = self.encoder.config.to_dict()
        add_heads(self, self.encoder.config.hidden_size, labels, config)
        self.last_piece = None
        self.set_word_pooling(config.word_pooling)
        self.char_encoder = None
        self.set_word_chars(config.word_chars)
        self.treebank_embedding = None
        self.set_treebank_hints(getattr(config, "treebank_hints", None) or [])

    def set_treebank_hints(self, treebanks: list[str]) -> None:
        """Take a hint for each of `treebanks` (see the module doc). New vectors start at zero, so
        a trained model predicts exactly as before until fine-tuning moves them; the vectors of
        treebanks the model already knew are kept."""
        old_rows = hint_rows(getattr(self.config, "treebank_hints", None) or [])
        old = self.treebank_embedding
        self.config.treebank_hints = list(treebanks)
        if not treebanks:
            self.treebank_embedding = None
            return
        self.treebank_embedding = nn.Embedding(len(treebanks) + 1, self.encoder.config.hidden_size)
        nn.init.zeros_(self.treebank_embedding.weight)
        if old is not None:
            kept = [(NO_HINT, NO_HINT)] + [(row, old_rows[tb]) for tb, row in hint_rows(treebanks).items()
                                           if tb in old_rows]
            with torch.no_grad():
                for new, was in kept:
                    self.treebank_embedding.weight[new] = old.weight[was]

    def set_word_pooling(self, pooling: str) -> None:
        """Switch to `pooling`; a new last-piece projection starts at zero, so a trained
        first-piece model predicts exactly as before until fine-tuning moves it."""
        if pooling not in WORD_POOLINGS:
            raise ValueError(f"unknown word pooling {pooling!r} (known: {', '.join(WORD_POOLINGS)})")
        self.config.word_pooling = pooling
        if pooling == "first":
            self.last_piece = None
        elif self.last_piece is None:
            hidden = self.encoder.config.hidden_size
            self.last_piece = nn.Linear(hidden, hidden)
            nn.init.zeros_(self.last_piece.weight)
            nn.init.zeros_(self.last_piece.bias)

    def set_word_chars(self, max_chars: int) -> None:
        """Read `max_chars` characters per word with a character CNN (0: none). A new CNN's
        projection starts at zero (see CharWordEncoder); an existing one is kept, since its
        filters do not depend on the word length."""
        if max_chars:
            check_word_chars(max_chars)
        self.config.word_chars = max_chars
        if not max_chars:
            self.char_encoder = None
        elif self.char_encoder is None:
            self.char_encoder = CharWordEncoder(self.encoder.config.hidden_size)

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
               treebank: torch.Tensor | None = None) -> torch.Tensor:
        """treebank: (batch,) hint rows (0: none), for a model with treebank hints; None: no hint."""
        if self.treebank_embedding is None:
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        embedded = self.encoder.get_input_embeddings()(input_ids)
        if treebank is None:
            treebank = torch.zeros(len(input_ids), dtype=torch.long, device=input_ids.device)
        embedded = embedded + self.treebank_embedding(treebank)[:, None, :]
        return self.encoder(inputs_embeds=embedded, attention_mask=attention_mask).last_hidden_state

    def word_states(self, states: torch.Tensor, word_index: torch.Tensor,
                    last_index: torch.Tensor | None = None, word_chars: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, seq, hidden) encoder states -> (n_words, hidden), flat over the batch."""
        flat = states.flatten(0, 1)
        words = flat.index_select(0, word_index)
        if self.last_piece is not None:
            if last_index is None:
                raise ValueError("a first+last model needs last_index (see encoding.collate_numpy)")
            words = words + self.last_piece(flat.index_select(0, last_index))
        if self.char_encoder is not None:
            if word_chars is None:
                raise ValueError("a model with a character encoder needs word_chars (see encoding.WordChars)")
            words = words + self.char_encoder(word_chars)
        return words

    def heads(self, states: torch.Tensor, which=None) -> dict[str, torch.Tensor]:
        """Logits for any (..., hidden) states: per word, or per wordpiece for distillation
        (dropout first; the identity in eval mode). `which`: see heads.head_logits."""
        return head_logits(self, self.dropout(states), which)

    def forward(self, input_ids, attention_mask, word_index, last_index=None,
                word_chars=None, treebank=None) -> dict[str, torch.Tensor]:
        """Word-level logits, flat over all words of the batch: (n_words, classes)."""
        states = self.encode(input_ids, attention_mask, treebank)
        return self.heads(self.word_states(states, word_index, last_index, word_chars))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
