"""Training the segmenter end to end on a tiny two-language UD folder (seconds)."""

from __future__ import annotations

import copy
import json
import lzma
from pathlib import Path

import numpy as np
import pytest
import torch

from polytag.core import segmentation as seg
from polytag.core.errors import InputError
from polytag.training import segmenter as training

TINY = seg.SegmenterConfig(
    n_buckets=512, char_dim=8, cat_dim=4, channels=16, dilations=(1, 2), context=8, core=24,
    batch_windows=4, dropout=0.0,
)  # fmt: skip


def _row(i: int, form: str, misc: str = "_") -> str:
    return f"{i}\t{form}\t_\t_\t_\t_\t{0 if i == 1 else 1}\t_\t_\t{misc}"


def _sentences(lang: str, n: int) -> str:
    """n small sentences; French ones contain the multiword token 'du' = 'de le'."""
    out = []
    for k in range(n):
        if lang == "fr":
            rows = [_row(1, "Il"), _row(2, "parle"), "3-4\tdu\t_\t_\t_\t_\t_\t_\t_\t_",
                    _row(3, "de"), _row(4, "le"), _row(5, f"chat{k}", "SpaceAfter=No"), _row(6, ".")]  # fmt: skip
            text = f"Il parle du chat{k}."
        else:
            rows = [_row(1, "We"), _row(2, "see"), _row(3, f"dog{k}", "SpaceAfter=No"), _row(4, "!")]
            text = f"We see dog{k}!"
        par = "# newpar\n" if k % 3 == 0 else ""
        out.append(f"{par}# text = {text}\n" + "\n".join(rows) + "\n\n")
    return "".join(out)


def write_treebanks(root: Path, splits: dict[str, tuple[str, str]]) -> Path:
    """A UD folder: treebank id -> (train text, dev text); train compressed as the shared data is."""
    for name, (train, dev) in splits.items():
        folder = root / name
        folder.mkdir(parents=True)
        with lzma.open(folder / f"{name}-ud-train.conllu.xz", "wt", encoding="utf-8") as f:
            f.write(train)
        (folder / f"{name}-ud-dev.conllu").write_text(dev, encoding="utf-8")
    return root


def make_ud(root: Path) -> Path:
    return write_treebanks(root, {name: (_sentences(lang, 60), _sentences(lang, 8))
                                  for name, lang in (("fr_tiny", "fr"), ("en_tiny", "en"))})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("seg")
    ud = make_ud(root / "ud")
    # a budget in steps, not minutes: a busy machine must not train it less (minutes: only a safety net)
    config = training.TrainConfig(batch_size=8, crop=48, lr=0.02, epoch_steps=100, max_epochs=5)
    logs: list[str] = []
    folder = training.train_segmenter(ud, root / "out", 5, config, TINY, log=logs.append)
    return root, folder, logs


def test_training_writes_a_complete_folder_and_reports_dev(trained):
    root, folder, logs = trained
    assert folder == root / "out" / "segmenter"
    assert {p.name for p in folder.iterdir()} == {"segmenter.onnx", "segmenter.json", "mwt.json"}
    assert seg.SegmenterConfig.load(folder / "segmenter.json") == TINY
    assert seg.MwtLexicon.load(folder / "mwt.json").expand("du") == ["de", "le"]
    assert any(line.startswith("dev tokens") for line in logs)
    assert (root / "out" / "segmenter-run" / "checkpoint" / "state.pt").exists()  # the one loop's checkpoint
    assert (root / "out" / "segmenter-run" / "metrics.jsonl").exists()


def test_tiny_model_learns_the_fixture(trained):
    from polytag.tagging.segmenter import Segmenter

    segmenter = Segmenter.load(trained[1])
    sentences = list(segmenter.segment("Il parle du chat3. We see dog5!"))
    tokens = [t for s in sentences for t in s.tokens]
    assert [t.form for t in tokens] == ["Il", "parle", "du", "chat3", ".", "We", "see", "dog5", "!"]
    assert tokens[2].words == ["de", "le"]


def test_rerun_resumes_from_the_checkpoint(trained):
    root, _, _ = trained
    logs: list[str] = []
    config = training.TrainConfig(batch_size=8, crop=48, epoch_steps=40)
    training.train_segmenter(root / "ud", root / "out", 0.12, config, TINY, log=logs.append)
    assert any(line.startswith("resumed from") for line in logs)


def test_missing_train_files_are_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no .*train"):
        training.train_segmenter(tmp_path, tmp_path / "out", 0.01, model_config=TINY)


def _convention_sentences(split_bang: bool, n: int) -> str:
    """The same English text; one treebank splits 'dog7!' into two tokens, the other keeps one."""
    out = []
    for k in range(n):
        if split_bang:
            rows = [_row(1, "We"), _row(2, "see"), _row(3, f"dog{k}", "SpaceAfter=No"), _row(4, "!")]
        else:
            rows = [_row(1, "We"), _row(2, "see"), _row(3, f"dog{k}!")]
        out.append(f"# newpar\n# text = We see dog{k}!\n" + "\n".join(rows) + "\n\n")
    return "".join(out)


def make_convention_ud(root: Path) -> Path:
    return write_treebanks(root, {name: (_convention_sentences(split, 80), _convention_sentences(split, 6))
                                  for name, split in (("en_split", True), ("en_whole", False))})


@pytest.fixture(scope="module")
def hinted(tmp_path_factory):
    root = tmp_path_factory.mktemp("hinted")
    ud = make_convention_ud(root / "ud")
    # a budget in steps, not minutes: a busy machine must not train it less (minutes: only a safety net)
    config = training.TrainConfig(batch_size=8, crop=48, lr=0.02, epoch_steps=100, max_epochs=6, hint_dropout=0.3)
    logs: list[str] = []
    folder = training.train_segmenter(ud, root / "out", 5, config, copy.deepcopy(TINY), log=logs.append)
    return root, folder, logs


def test_hints_learn_each_treebanks_convention(hinted):
    from polytag.tagging.segmenter import Segmenter

    root, folder, logs = hinted
    segmenter = Segmenter.load(folder)
    assert segmenter.treebank_hints == ["en_split", "en_whole"]
    assert any(line.startswith("dev, own hint") for line in logs)

    def forms(treebank):
        return [t.form for s in segmenter.segment("We see dog3!", treebank=treebank) for t in s.tokens]

    assert forms("en_split") == ["We", "see", "dog3", "!"]
    assert forms("en_whole") == ["We", "see", "dog3!"]
    assert forms("fr_unknown") == forms(None)  # an id the segmenter does not know: no hint


def test_training_continues_from_an_exported_segmenter_without_hints(trained, tmp_path):
    """A shipped (hint-less, float) segmenter.onnx is a starting point; its hints start at zero,
    so before any step the hinted net segments exactly as the shipped one."""

    from polytag.nn.segmenter import SegmenterNet

    weights = training.initial_weights(trained[1] / "segmenter.onnx")
    plain = SegmenterNet(TINY).eval()
    plain.load_state_dict(weights)
    net = SegmenterNet(seg.SegmenterConfig(**{**TINY.__dict__, "treebank_hints": ["en_tiny", "fr_tiny"]})).eval()
    missing, unexpected = net.load_state_dict(weights, strict=False)
    assert missing == ["hints.weight"] and unexpected == []
    chars, cats = torch.randint(1, 512, (2, 40)), torch.randint(1, 20, (2, 40))
    assert torch.equal(net(chars, cats, torch.tensor([1, 2])), plain(chars, cats))


def test_a_compacted_segmenter_is_half_the_size_segments_alike_and_still_trains_and_averages(trained, tmp_path):
    import shutil  # noqa: PLC0415

    from polytag.tagging.segmenter import Segmenter  # noqa: PLC0415

    _, folder, _ = trained
    packed = tmp_path / "packed"
    shutil.copytree(folder, packed)
    training.compact_segmenter(packed)
    assert {p.name for p in packed.iterdir()} == {"segmenter.onnx", "segmenter.json", "mwt.json.xz"}
    assert (packed / "segmenter.onnx").stat().st_size < 0.6 * (folder / "segmenter.onnx").stat().st_size
    text = "Le chat dort du matin au soir. Der Hund schläft zum Glück!\n\nNeu hier."
    before, after = Segmenter.load(folder), Segmenter.load(packed)
    assert after.lexicon == before.lexicon
    assert [[(t.start, t.end, t.words) for t in s.tokens] for s in after.segment(text)] == \
        [[(t.start, t.end, t.words) for t in s.tokens] for s in before.segment(text)]
    weights = training.onnx_weights(packed / "segmenter.onnx")
    exact = training.onnx_weights(folder / "segmenter.onnx")
    assert weights.keys() == exact.keys() and all(w.dtype == torch.float32 for w in weights.values())
    assert all(torch.allclose(weights[k], exact[k], rtol=1e-3, atol=1e-4) for k in exact)
    net, _, lexicon = training.average_segmenters([folder, packed])
    assert lexicon == before.lexicon
    training.compact_segmenter(packed)  # a second time: nothing left to do, nothing broken
    assert Segmenter.load(packed).lexicon == before.lexicon


def test_a_file_that_is_not_onnx_is_an_input_error(tmp_path):
    bad = tmp_path / "segmenter.onnx"
    bad.write_bytes(b"not a protobuf at all \xff\xfe")
    with pytest.raises(InputError, match="segmenter.onnx"):
        training.initial_weights(bad)


@pytest.fixture(scope="module")
def continued_with_hints(trained, tmp_path_factory):
    """`trained` continued with hints on the same data: same shape and lexicon, so averageable."""
    root, folder, _ = trained
    config = training.TrainConfig(batch_size=8, crop=48, lr=0.02, epoch_steps=20, max_epochs=1, hint_dropout=0.5,
                                  init=str(folder / "segmenter.onnx"))
    out = tmp_path_factory.mktemp("continued")
    return training.train_segmenter(root / "ud", out, 5, config, copy.deepcopy(TINY), log=[].append)


def test_segmenters_average_by_their_shares_and_keep_whole_hints(trained, continued_with_hints, tmp_path):
    from polytag.tagging.segmenter import Segmenter

    plain, hinted = trained[1], continued_with_hints
    net, config, _ = training.average_segmenters([plain, hinted], [3, 1])
    a = training.initial_weights(plain / "segmenter.onnx")
    b = training.initial_weights(hinted / "segmenter.onnx")
    mean = net.state_dict()
    assert not torch.equal(a["first.weight"], b["first.weight"])
    assert torch.allclose(mean["first.weight"], 0.75 * a["first.weight"] + 0.25 * b["first.weight"])
    # the hints only one folder has are its own, not shrunk by the folder without them
    assert config.treebank_hints == ["en_tiny", "fr_tiny"]
    assert torch.equal(mean["hints.weight"], b["hints.weight"]) and b["hints.weight"].abs().sum() > 0
    out = training.write_average_segmenter([plain, hinted], tmp_path / "avg", [3, 1])
    assert json.loads((out / "average.json").read_text())["weights"] == [0.75, 0.25]
    forms = [t.form for s in Segmenter.load(out).segment("Il parle du chat3.", treebank="fr_tiny") for t in s.tokens]
    assert forms == ["Il", "parle", "du", "chat3", "."]


def test_polytag_average_takes_segmenter_folders(capsys, trained, continued_with_hints, hinted, tmp_path):
    from test_cli import assert_one_error_line, run_cli

    plain = trained[1]
    rc, stdout, _ = run_cli(capsys, "average", plain, continued_with_hints, "-o", tmp_path / "s", "--weights", "0.6,0.4")
    assert rc == 0 and "mean of 2 segmenters" in stdout and (tmp_path / "s" / "segmenter.onnx").is_file()
    rc, _, err = run_cli(capsys, "average", plain, hinted[1], "-o", tmp_path / "bad")
    assert_one_error_line(rc, err, str(hinted[1]), "multiword lexicon differs")
    rc, _, err = run_cli(capsys, "average", plain, continued_with_hints, "-o", tmp_path / "bad", "--weights", "1")
    assert_one_error_line(rc, err, "--weights: give 2 positive numbers")
    rc, _, err = run_cli(capsys, "average", plain, plain.parent, "-o", tmp_path / "bad")
    assert_one_error_line(rc, err, str(plain.parent), "not a segmenter folder")
    assert not (tmp_path / "bad").exists()


def test_a_share_of_the_training_crops_is_shown_lowercased():
    import numpy as np  # noqa: PLC0415

    text = "The Cat Sleeps. The Dog Eats. " * 20
    char_ids, cat_ids, _ = seg.featurize(text, seg.SegmenterConfig.n_buckets)
    arrays = training.TreebankArrays("xx_a", char_ids.astype(np.int32), cat_ids.astype(np.int8),
                                     np.zeros(len(text), np.uint8))
    capital = seg.CAPITAL_CATS[0]
    for share, lowered in ((0.0, 0), (1.0, 64)):
        config = training.TrainConfig(batch_size=64, crop=32, lowercase_share=share)
        chars, cats, _ = training.BatchSampler([arrays], config, seed=1).batch()
        rows_without = int(((cats == capital).sum(dim=1) == 0).sum())
        assert rows_without >= lowered and (share or rows_without < 64)
        assert chars.max() > 0  # the characters themselves are as they were (lowercased already)


def test_an_ensemble_averages_its_members_probabilities(trained, continued_with_hints, tmp_path):
    import onnxruntime as ort  # noqa: PLC0415

    from polytag.nn.segmenter import SegmenterNet  # noqa: PLC0415
    from polytag.tagging.segmenter import Segmenter  # noqa: PLC0415

    plain, hinted = trained[1], continued_with_hints
    out = training.write_ensemble_segmenter([plain, hinted], tmp_path / "ens", [3, 1])
    record = json.loads((out / "ensemble.json").read_text())
    assert record["weights"] == [0.75, 0.25] and [m["folder"] for m in record["ensemble_of"]] == [str(plain), str(hinted)]
    # a member that is itself an average keeps its history in the record
    averaged = training.write_average_segmenter([plain, hinted], tmp_path / "avg", [3, 1])
    record = json.loads((training.write_ensemble_segmenter([averaged, plain], tmp_path / "ens3") / "ensemble.json").read_text())
    assert record["ensemble_of"][0]["averaged_from"] == [str(plain), str(hinted)] and "averaged_from" not in record["ensemble_of"][1]
    members = []
    for folder in (plain, hinted):
        net = SegmenterNet(seg.SegmenterConfig.load(folder / "segmenter.json")).eval()
        net.load_state_dict(training.onnx_weights(folder / "segmenter.onnx"))
        members.append(net)
    torch.manual_seed(0)
    chars, cats, hints = torch.randint(1, 512, (3, 40)), torch.randint(1, 20, (3, 40)), torch.tensor([0, 1, 2])
    with torch.no_grad():
        probs = 0.75 * torch.softmax(members[0](chars, cats), -1) + 0.25 * torch.softmax(members[1](chars, cats, hints), -1)
    session = ort.InferenceSession(str(out / "segmenter.onnx"), providers=["CPUExecutionProvider"])
    labels = session.run(None, {"char_ids": chars.numpy(), "cat_ids": cats.numpy(), "hint_ids": hints.numpy()})[0]
    assert (labels == probs.argmax(-1).numpy()).all()
    # the members disagree somewhere, so the weights matter
    alone = [m(chars, cats, hints if m.hints is not None else None).argmax(-1) for m in members]
    assert not torch.equal(alone[0], alone[1])
    # served like any segmenter; where the members split a text differently, the weights decide
    assert Segmenter.load(out).treebank_hints == ["en_tiny", "fr_tiny"]

    def forms(folder):
        return [t.form for s in Segmenter.load(folder).segment("Il parle du chat3.", treebank="fr_tiny")
                for t in s.tokens]

    assert forms(plain) != forms(hinted)  # the tiny members disagree on this text (seeded training)
    assert forms(out) == forms(plain)
    assert forms(training.write_ensemble_segmenter([plain, hinted], tmp_path / "ens2", [1, 3])) == forms(hinted)


def test_an_ensemble_is_not_averaged_or_built_from_mismatched_members(trained, continued_with_hints, tmp_path):
    import shutil  # noqa: PLC0415

    plain, hinted = trained[1], continued_with_hints
    ens = training.write_ensemble_segmenter([plain, hinted], tmp_path / "ens")
    with pytest.raises(InputError, match="an ensemble of segmenters"):
        training.average_segmenters([plain, ens])
    with pytest.raises(InputError, match="an ensemble of segmenters"):
        training.ensemble_segmenters([plain, ens])
    wider = tmp_path / "wider"
    shutil.copytree(plain, wider)
    config = json.loads((wider / "segmenter.json").read_text())
    (wider / "segmenter.json").write_text(json.dumps({**config, "context": config["context"] + 2}))
    with pytest.raises(InputError, match="reads text differently"):
        training.ensemble_segmenters([plain, wider])


def test_polytag_average_ensemble(capsys, trained, continued_with_hints, tiny_model_dir, tmp_path):
    from test_cli import assert_one_error_line, run_cli

    plain = trained[1]
    rc, stdout, _ = run_cli(capsys, "average", plain, continued_with_hints, "-o", tmp_path / "e", "--ensemble")
    assert rc == 0 and "ensemble of 2 segmenters" in stdout and (tmp_path / "e" / "ensemble.json").is_file()
    rc, _, err = run_cli(capsys, "average", tiny_model_dir, tiny_model_dir, "-o", tmp_path / "bad", "--ensemble")
    assert_one_error_line(rc, err, "--ensemble", "only segmenter folders")
    assert not (tmp_path / "bad").exists()


def test_an_ensembles_members_load_one_by_one_and_together_as_a_teacher(trained, continued_with_hints, tmp_path):
    import onnxruntime as ort  # noqa: PLC0415

    plain, hinted = trained[1], continued_with_hints
    ens = training.write_ensemble_segmenter([plain, hinted], tmp_path / "ens", [3, 1])
    training.compact_segmenter(ens)  # as shipped: fp16 weights
    with pytest.raises(InputError, match="say which member"):
        training.onnx_weights(ens / "segmenter.onnx")
    for k, member in enumerate((plain, hinted)):
        alone, within = training.onnx_weights(member / "segmenter.onnx"), training.onnx_weights(ens / "segmenter.onnx", k)
        assert within.keys() == alone.keys()
        assert all(torch.allclose(within[n], alone[n], rtol=1e-3, atol=1e-4) for n in alone)
    config = seg.SegmenterConfig.load(ens / "segmenter.json")
    teacher = training.load_teacher(ens, config)
    torch.manual_seed(1)
    chars, cats, hints = torch.randint(1, 512, (3, 40)), torch.randint(1, 20, (3, 40)), torch.tensor([0, 1, 2])
    probs = teacher(chars, cats, hints)
    assert torch.allclose(probs.sum(-1), torch.ones(3, 40)) and not probs.requires_grad
    session = ort.InferenceSession(str(ens / "segmenter.onnx"), providers=["CPUExecutionProvider"])
    labels = session.run(None, {"char_ids": chars.numpy(), "cat_ids": cats.numpy(), "hint_ids": hints.numpy()})[0]
    assert (probs.argmax(-1).numpy() == labels).all()
    # a teacher must read text as its student does, and know the student's hints
    with pytest.raises(InputError, match="reads text differently"):
        training.load_teacher(ens, seg.SegmenterConfig(**{**config.__dict__, "context": 12}))
    with pytest.raises(InputError, match="hints differ"):
        training.load_teacher(ens, seg.SegmenterConfig(**{**config.__dict__, "treebank_hints": ["en_tiny"]}))


def test_a_net_taught_only_by_a_teacher_learns_to_segment_as_it_does(trained, continued_with_hints, tmp_path):
    """teacher_weight 1: no gold labels at all, so what the student learns comes from the teacher
    (here an ensemble); it starts from an ensemble member, chosen by --init-member."""
    from polytag.tagging.segmenter import Segmenter  # noqa: PLC0415

    root, plain, _ = trained
    ens = training.write_ensemble_segmenter([plain, continued_with_hints], tmp_path / "ens")
    logs: list[str] = []
    config = training.TrainConfig(batch_size=8, crop=48, lr=0.02, epoch_steps=100, max_epochs=3, hint_dropout=0.5,
                                  teacher=str(ens), teacher_weight=1.0, seed=5)
    student = training.train_segmenter(root / "ud", tmp_path / "student", 5, config, copy.deepcopy(TINY), log=logs.append)
    metrics = [json.loads(line) for line in (tmp_path / "student" / "segmenter-run" / "metrics.jsonl").open()]
    assert any("soft" in m and "gold" in m for m in metrics)
    text = "Il parle du chat3. We see dog5! Il parle du chat7."
    spans = [[(t.start, t.end, t.words) for t in s.tokens] for s in Segmenter.load(student).segment(text)]
    assert spans == [[(t.start, t.end, t.words) for t in s.tokens] for s in Segmenter.load(ens).segment(text)]
    # a start from one member of an ensemble's graph
    config = training.TrainConfig(batch_size=8, crop=48, lr=0.0, epoch_steps=1, max_epochs=1, hint_dropout=0.5,
                                  init=str(ens / "segmenter.onnx"), init_member=1)
    again = training.train_segmenter(root / "ud", tmp_path / "member1", 5, config, copy.deepcopy(TINY), log=logs.append)
    assert all(torch.equal(a, b) for a, b in zip(training.onnx_weights(again / "segmenter.onnx").values(),
                                                 training.onnx_weights(continued_with_hints / "segmenter.onnx").values()))


def _gold(forms: list[str]) -> seg.GoldSentence:
    return seg.GoldSentence(" ".join(forms), [seg.GoldToken(f, True, [f]) for f in forms], False)


def test_sentence_words_are_learned_for_a_treebank_whose_sentences_end_unpunctuated():
    import random  # noqa: PLC0415

    rng = random.Random(0)
    middle = "le chat et la maison de mon ami est grande ou petite".split()

    def utterance():  # sentences begin with 'bon' or 'alors' and end with 'quoi'
        return [rng.choice(["bon", "alors"])] + rng.sample(middle, rng.randint(2, 6)) + ["quoi"]

    spoken = [_gold(utterance()) for _ in range(300)]
    threshold, weights = training.learn_sentence_words(spoken)
    assert threshold in training.SENTENCE_WORDS_THRESHOLDS and weights["l:quoi"] > 1 and weights["b"] < 0
    assert all(abs(w) >= 0.2 and round(w, 2) == w for w in weights.values())
    model = seg.SentenceWords(threshold, weights)
    held = [utterance() for _ in range(20)]
    forms = [f for u in held for f in u]
    starts, ends = training._offsets(forms)
    found = model.sentence_ends(" ".join(forms), starts, ends, np.zeros(len(forms), bool), len(forms))
    assert training._sentence_f1(found, np.array([i == len(u) - 1 for u in held for i in range(len(u))])) == 1.0
    # a treebank whose sentences end with punctuation: the network's own signs do
    written = [_gold(utterance()[:-1] + ["."]) for _ in range(300)]
    assert training.learn_sentence_words(written) is None and training.learn_sentence_words([]) is None
