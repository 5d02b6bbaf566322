"""Test helpers shared by several test folders: sentences in many scripts and a tiny random tagger."""

from __future__ import annotations

import torch

from polytag.core.folder import ModelConfig
from polytag.core.labels import Labels
from polytag.nn.transformer import TaggerModel, preset_encoder_config
from polytag.tagging.tagger import Tagger
from polytag.tagging.torch_backend import TorchBackend

SENTENCES = [
    ["Das", "ist", "gut", "."],
    ["Мама", "мыла", "раму", "."],
    ["猫", "が", "魚", "を", "食べる", "。"],
    ["הילד", "הלך", "ל", "ה", "בית", "."],
    ["राम", "ने", "किताब", "पढ़ी", "।"],
    ["👍🏽", "\u200d", "e\u0301", "x" * 999, "Ο", "σκύλος", "τρέχει", "."],
]


def random_tagger(tokenizer, seed=0, heads=("bundle", "factored")) -> Tagger:
    """A tiny untrained model: its logits are far from uniform, so mismatches would show."""
    torch.manual_seed(seed)
    labels = Labels.build(["_", "Case=Nom|Number=Sing", "Case=Acc|Number=Plur", "Gender=Fem", "Tense=Past"])
    config = ModelConfig(encoder="tiny", encoder_config=preset_encoder_config("tiny", len(tokenizer), 32),
                         max_len=32, morph_heads=list(heads), morph_decode=heads[0])
    model = TaggerModel(config, labels).eval()
    return Tagger(TorchBackend(model), tokenizer, labels, config, batch_size=3)


def all_logits(tagger, sentences):
    return tagger.logits(sentences, ("upos", *tagger.config.morph_heads))


def hinted_copy(model_dir, folder, treebanks=("xx_test", "yy_other")):
    """A copy of a model folder with treebank hints whose vectors are random (so they matter)."""
    from polytag.nn.model_io import load_model, save_model  # noqa: PLC0415

    model, tokenizer, labels, _ = load_model(model_dir)
    model.set_treebank_hints(list(treebanks))
    torch.manual_seed(0)
    with torch.no_grad():
        model.treebank_embedding.weight.normal_(std=1.0)
    save_model(folder, model, tokenizer, labels)
    return folder
