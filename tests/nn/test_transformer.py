"""The tagger network: encoder presets, heads on first wordpieces, the factored value mask."""

from __future__ import annotations

import pytest
import torch

from polytag.core.encoding import WordChars, WordPieces, collate, make_chunks
from polytag.core.folder import ModelConfig
from polytag.core.labels import Labels
from polytag.nn.transformer import (
    PRESETS,
    TaggerModel,
    count_parameters,
    preset_encoder_config,
)

FEATS = ["_", "Case=Nom|Number=Sing", "Case=Acc|Number=Plur", "Definite=Def|PronType=Art",
         "Mood=Ind|Person=3|Tense=Pres|VerbForm=Fin"]


def tiny_model(heads=("bundle", "factored"), vocab_size=300, seed=0) -> tuple[TaggerModel, Labels]:
    torch.manual_seed(seed)
    labels = Labels.build(FEATS)
    config = ModelConfig(encoder="tiny", encoder_config=preset_encoder_config("tiny", vocab_size, 64),
                         max_len=64, dropout=0.0, morph_heads=list(heads), morph_decode=heads[0])
    return TaggerModel(config, labels).eval(), labels


def test_presets_are_the_papers_sizes():
    mini = preset_encoder_config("minibert", 32000, 128)
    assert (mini["num_hidden_layers"], mini["hidden_size"], mini["num_attention_heads"],
            mini["intermediate_size"]) == (3, 256, 4, 1024)
    base = preset_encoder_config("bert-base", 32000, 128)
    assert (base["num_hidden_layers"], base["hidden_size"], base["num_attention_heads"],
            base["intermediate_size"]) == (12, 768, 12, 3072)
    assert mini["vocab_size"] == 32000 and mini["max_position_embeddings"] >= 128
    assert preset_encoder_config("tiny", 300, 1024)["max_position_embeddings"] >= 1024
    assert set(PRESETS) >= {"minibert", "bert-base", "tiny"}
    with pytest.raises(ValueError, match="unknown encoder preset 'huge'"):
        preset_encoder_config("huge", 100, 128)


def test_forward_gives_one_row_per_word(tiny_tokenizer):
    model, labels = tiny_model()
    wp = WordPieces(tiny_tokenizer)
    sentences = [["Мама", "мыла", "раму", "."], ["猫が魚を食べる", "。"], ["Ich", "gehe", "zu", "dem", "Markt"]]
    batch = collate(make_chunks(wp, sentences, 64), wp.pad_id)
    out = model(**batch)
    n = sum(len(s) for s in sentences)
    assert out["upos"].shape == (n, 17)
    assert out["bundle"].shape == (n, len(labels.bundles))
    assert out["factored"].shape == (n, labels.n_features, labels.max_values)
    # padding does not change a sentence's logits: batch of one vs batch of three
    alone = model(**collate(make_chunks(wp, sentences[:1], 64), wp.pad_id))
    assert torch.allclose(alone["upos"], out["upos"][:4], atol=1e-5)


def test_first_plus_last_pooling_starts_as_the_first_piece_model(tiny_tokenizer):
    model, _ = tiny_model()
    wp = WordPieces(tiny_tokenizer)
    sentences = [["Мама", "мыла", "раму", "."], ["猫が魚を食べる", "Marktplatzverkäufer", "。"]]
    chunks = make_chunks(wp, sentences, 64)
    assert any(f != last for c in chunks for f, last in zip(c.first, c.last))  # some words have 2+ pieces
    batch = collate(chunks, wp.pad_id)
    before = model(**batch)
    model.set_word_pooling("first+last")
    assert model.config.word_pooling == "first+last"
    after = model(**batch)
    assert all(torch.equal(before[k], after[k]) for k in before)  # a zero projection: nothing moved
    with torch.no_grad():
        model.last_piece.weight.normal_()
    moved = model(**batch)["upos"]
    assert not torch.allclose(moved, before["upos"])
    with pytest.raises(ValueError, match="needs last_index"):
        model(batch["input_ids"], batch["attention_mask"], batch["word_index"])
    with pytest.raises(ValueError, match="unknown word pooling 'mean'"):
        model.set_word_pooling("mean")
    model.set_word_pooling("first")
    assert model.last_piece is None and torch.equal(model(**batch)["upos"], before["upos"])


def test_character_encoder_starts_silent_then_reads_characters(tiny_tokenizer):
    model, _ = tiny_model()
    wp, chars = WordPieces(tiny_tokenizer), WordChars(12)
    sentences = [["Мама", "мыла", "раму", "."], ["Marktplatzverkäufer", "הילד", "😀", "。"]]
    batch = collate(make_chunks(wp, sentences, 64), wp.pad_id, chars)
    assert batch["word_chars"].shape == (8, 12)
    before = model(**batch)
    model.set_word_chars(12)
    assert model.config.word_chars == 12
    after = model(**batch)
    assert all(torch.equal(before[k], after[k]) for k in before)  # a zero projection: nothing moved
    with torch.no_grad():
        model.char_encoder.project.weight.normal_()
    moved = model(**batch)["upos"]
    assert not torch.allclose(moved, before["upos"])
    # two emoji are both [UNK] to the wordpiece vocabulary, but not to the character encoder
    unknown = [collate(make_chunks(wp, [[emoji]], 64), wp.pad_id, chars) for emoji in ("😀", "😺")]
    assert torch.equal(unknown[0]["input_ids"], unknown[1]["input_ids"])
    assert not torch.allclose(model(**unknown[0])["upos"], model(**unknown[1])["upos"])
    with pytest.raises(ValueError, match="needs word_chars"):
        model(batch["input_ids"], batch["attention_mask"], batch["word_index"])
    with pytest.raises(ValueError, match="at least 3"):
        model.set_word_chars(2)
    model.set_word_chars(0)
    assert model.char_encoder is None and torch.equal(model(**batch)["upos"], before["upos"])


def test_treebank_hints_start_silent_keep_known_vectors_and_condition_the_encoder(tiny_tokenizer):
    model, _ = tiny_model()
    wp = WordPieces(tiny_tokenizer)
    batch = collate(make_chunks(wp, [["Мама", "мыла", "раму", "."], ["Das", "ist", "gut", "."]], 64), wp.pad_id)
    before = model(**batch)
    model.set_treebank_hints(["aa_one", "bb_two"])
    assert model.config.treebank_hints == ["aa_one", "bb_two"]
    rows = torch.tensor([1, 2])
    after = model(**batch, treebank=rows)
    assert all(torch.equal(before[k], after[k]) for k in before)  # zero vectors: nothing moved
    with torch.no_grad():
        model.treebank_embedding.weight.normal_()
    hinted = model(**batch, treebank=rows)["upos"]
    assert not torch.allclose(hinted, before["upos"])
    # no treebank tensor is row 0 ("no hint") for every sentence
    assert torch.equal(model(**batch)["upos"], model(**batch, treebank=torch.tensor([0, 0]))["upos"])
    # the hint reaches every word through the encoder, not only a per-treebank bias on the logits
    one, two = model(**batch, treebank=torch.tensor([1, 1]))["upos"], model(**batch, treebank=torch.tensor([2, 2]))["upos"]
    assert not torch.allclose((one - two)[0], (one - two)[1], atol=1e-4)
    kept = model.treebank_embedding.weight.detach().clone()
    model.set_treebank_hints(["bb_two", "cc_new", "aa_one"])  # reordered and extended: known rows kept
    weight = model.treebank_embedding.weight.detach()
    assert torch.equal(weight[0], kept[0]) and torch.equal(weight[1], kept[2]) and torch.equal(weight[3], kept[1])
    assert not weight[2].any()
    model.set_treebank_hints([])
    assert model.treebank_embedding is None and torch.equal(model(**batch)["upos"], before["upos"])


def test_heads_run_on_any_states():
    model, labels = tiny_model()
    out = model.heads(torch.randn(2, 7, model.encoder.config.hidden_size))  # per wordpiece (distillation)
    assert out["upos"].shape == (2, 7, 17)
    assert out["factored"].shape == (2, 7, labels.n_features, labels.max_values)


def test_missing_value_slots_never_win():
    model, labels = tiny_model(heads=("factored",))
    with torch.no_grad():  # make every slot that does not exist the most attractive one
        bias = model.factored_head.bias.view(labels.n_features, labels.max_values)
        bias.copy_(torch.where(torch.from_numpy(labels.factored_mask()), -50.0, 50.0))
    out = model.heads(torch.randn(10, model.encoder.config.hidden_size))
    best = out["factored"].argmax(-1)
    sizes = torch.tensor([len(v) for v in labels.features.values()])
    assert (best < sizes).all()
    assert labels.decode_factored(best.numpy())  # decodes without an index error


@pytest.mark.parametrize("heads", [("bundle",), ("factored",), ("bundle", "factored")])
def test_morphology_head_selection(heads):
    model, _ = tiny_model(heads)
    out = model.heads(torch.randn(3, model.encoder.config.hidden_size))
    assert set(out) == {"upos", *heads}
    assert (model.bundle_head is not None) == ("bundle" in heads)


def test_config_round_trip_rebuilds_the_same_architecture():
    model, labels = tiny_model()
    rebuilt = TaggerModel(ModelConfig(**model.config.to_dict()), labels)
    assert count_parameters(rebuilt) == count_parameters(model) > 0
    assert [n for n, _ in rebuilt.named_parameters()] == [n for n, _ in model.named_parameters()]
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())
