"""Generate docs/results.md from the measured JSON files in docs/results/ (never typed by hand).

    python scripts/make_results.py            # rewrites docs/results.md

Each section is rendered from one JSON file by one function; a missing file leaves its
section out. Each JSON file records the command that produced it under "command".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
sys.path.insert(0, str(ROOT))
from polytag.bench import cpu_label  # noqa: E402


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# a figure measured before the scorer change, said the same way wherever one is marked
OLD_UFEATS = ("every feature compared (AllFeats: measured before polytag's gold-token scorer followed the "
              "CoNLL 2018 definition)")


def render_default_model(data: dict) -> str:
    """Section for the shipped default model: per-treebank dev scores + size/speed."""
    ev, info = data["evaluation"], data["model"]
    hinted = data.get("evaluation_with_hints")  # a model with treebank hints: also scored with each file's own
    every = "allfeats" in ev["macro"]  # scored since the scorer also reports all-features matches
    rows = [[k, v["words"], f"{v['upos']:.2f}", f"{v['ufeats']:.2f}"] + ([f"{v['allfeats']:.2f}"] if every else [])
            + ([f"{hinted['files'][k]['upos']:.2f}", f"{hinted['files'][k]['ufeats']:.2f}"] if hinted else [])
            for k, v in sorted(ev["files"].items())]
    rows.append([f"**macro ({len(ev['files'])} treebanks)**", "", f"**{ev['macro']['upos']:.2f}**",
                 f"**{ev['macro']['ufeats']:.2f}**"] + ([f"**{ev['macro']['allfeats']:.2f}**"] if every else [])
                + ([f"**{hinted['macro']['upos']:.2f}**", f"**{hinted['macro']['ufeats']:.2f}**"] if hinted else []))
    out = ["## Shipped default model (dev, gold tokenization)", ""]
    out += [f"- {k}: {v}" for k, v in info.items()]
    header = ["treebank (dev)", "words", "UPOS", "UFeats"] + (["AllFeats"] if every else [])
    if hinted:
        header += ["UPOS, own treebank hint", "UFeats, own treebank hint"]
        out += ["", "Without a hint (the default) and with each file's own treebank as the hint "
                "(`polytag evaluate --treebank auto`)."]
    out += ["", table(header, rows), ""]
    network = data.get("network_only_macro")
    if network:
        lexicon = (f" Its word lexicon was learned again with `{data['lexicon_command']}` (the labelled text: "
                   "docs/experiments.md, \"A text lexicon\")." if "lexicon_command" in data else "")
        if "guess_command" in data:
            lexicon += (f" Its cue words and writing signs (what the guess of a text's treebank reads besides "
                        f"the words) were learned again with `{data['guess_command']}`.")
        if "unfuse_command" in data:
            lexicon += (f" Its ONNX graph's SkipLayerNormalization nodes were written as Add + LayerNormalization "
                        f"(a faster kernel, the same weights) with `{data['unfuse_command']}`.")
        out += ["These use the folder's word lexicon (a form seen in training gets its most frequent label "
                "there when the network gives it one training never did, and a form no train split of its "
                "language has, the UPOS labelled text gave it most when the network gives it one that text "
                f"never did; `polytag lexicon`).{lexicon} The network alone "
                "(`--no-lexicon`), macro UPOS / UFeats" + (" / AllFeats: " if every else ": ")
                + "; ".join(f"{k} {v['upos']:.2f} / {v['ufeats']:.2f}" + (f" / {v['allfeats']:.2f}" if "allfeats" in v else "")
                            for k, v in network.items()) + ".", ""]
    if "head_comparison" in data:
        hc = data["head_comparison"]
        out += ["Morphology head comparison (same encoder, both heads trained jointly, dev macro as the training "
                "run measured it, every feature compared):", "",
                table(["head", "UFeats macro"], [[h, f"{v:.2f}"] for h, v in hc.items()]), ""]
    return "\n".join(out)


def render_meta_lstm(data: dict) -> str:
    """Meta-LSTM baseline: per-language vs one multilingual model, dev scores per treebank."""
    per, multi = data["per_language"], data["multilingual"]
    paper = data.get("paper_table8_upos") or {}
    # the shipped multilingual MiniBERT on the same dev files, keyed by treebank id like the Meta-LSTM rows
    shipped = RESULTS / "default_model.json"
    minibert = ({name.removesuffix("-ud-dev"): r for name, r in
                 json.loads(shipped.read_text(encoding="utf-8"))["evaluation"]["files"].items()}
                if shipped.exists() else {})
    header = ["treebank (dev)", "train words", "per-language UPOS", "UFeats", "multilingual UPOS", "UFeats",
              "Δ UPOS (multi − per-lang)", "shipped MiniBERT UPOS", "UFeats"] + (
        ["paper Table 8 Meta-LSTM UPOS*"] if paper else [])
    rows = []
    for tb, r in per.items():
        m, b = multi["files"].get(tb), minibert.get(tb)
        rows.append([tb, f"{r['train_words']:,}", f"{r['upos']:.2f}", f"{r['ufeats']:.2f}",
                     f"{m['upos']:.2f}" if m else "", f"{m['ufeats']:.2f}" if m else "",
                     f"{m['upos'] - r['upos']:+.2f}" if m else "",
                     f"{b['upos']:.2f}" if b else "", f"{b['ufeats']:.2f}" if b else ""]
                    + ([f"{paper[tb]:.2f}" if tb in paper else ""] if paper else []))

    def mean(scores: dict, metric: str, over) -> float | None:
        """Macro average over the treebanks `over`; None where one of them is missing."""
        return sum(scores[tb][metric] for tb in over) / len(over) if over and all(tb in scores for tb in over) else None

    def bold(value: float | None) -> str:
        return "" if value is None else f"**{value:.2f}**"

    if per and all(tb in multi["files"] for tb in per):
        per_upos, multi_upos = mean(per, "upos", per), mean(multi["files"], "upos", per)
        rows.append([f"**macro ({len(per)})**", "", bold(per_upos), bold(mean(per, "ufeats", per)), bold(multi_upos),
                     bold(mean(multi["files"], "ufeats", per)), f"{multi_upos - per_upos:+.2f}",
                     bold(mean(minibert, "upos", per)), bold(mean(minibert, "ufeats", per))] + ([""] if paper else []))
    out = ["## Meta-LSTM baseline (Bohnet et al. 2018), dev, gold tokenization", ""]
    out += [f"- {k}: {v}" for k, v in data["description"].items()]
    out += ["", table(header, rows), ""]
    minibert_all = [mean(minibert, metric, list(multi["files"])) for metric in ("upos", "ufeats")]
    out += [f"Multilingual model over all {len(multi['files'])} treebanks with a dev split: macro UPOS "
            f"{multi['macro']['upos']:.2f}, UFeats {multi['macro']['ufeats']:.2f}"
            + (f" (shipped MiniBERT on the same files: {minibert_all[0]:.2f}, {minibert_all[1]:.2f})"
               if None not in minibert_all else "") + ".", ""]
    if data.get("longer_runs"):
        out += render_longer_runs(data["longer_runs"], per, data.get("per_language_minutes"), minibert, paper)
    if data.get("joint_training"):
        out += render_joint_training(data["joint_training"], per, data.get("per_language_minutes"))
    if paper:
        out += ["\\* from the paper (Tsai et al. 2019, Table 8): on test, with predicted segmentation."
                + (f" Added by `{data['paper_command']}`." if data.get("paper_command") else ""), ""]
    elif data.get("paper_table8_note"):
        out += [data["paper_table8_note"], ""]
    for name, cmd in data.get("commands", {}).items():
        out.append(f"- {name}: `{cmd}`")
    return "\n".join(out)


def run_cells(r: dict | None) -> list[str]:
    """UPOS, UFeats and epochs seen of one Meta-LSTM run (blank cells where there is none)."""
    return [f"{r['upos']:.2f}", f"{r['ufeats']:.2f}", f"{r['epochs_seen']:g}"] if r else ["", "", ""]


def render_longer_runs(longer: dict, short: dict, short_minutes: float | None, minibert: dict,
                       paper: dict | None = None) -> list[str]:
    """Per-language Meta-LSTMs trained longer, beside the same treebanks' short runs, the MiniBERT and,
    where given, the paper's Table 8 Meta-LSTM (issue 19's target: within 1.5 UPOS points of it)."""
    paper = paper or {}
    was = f"{short_minutes:g} min" if short_minutes else "main table"
    header = ["treebank (dev)", "train words", f"UPOS ({was})", "UFeats", "epochs",
              f"UPOS ({longer['minutes']:g} min)", "UFeats", "epochs", "shipped MiniBERT UPOS", "UFeats"] + (
        ["paper Table 8 Meta-LSTM UPOS*", f"Δ UPOS ({longer['minutes']:g} min − paper)"] if paper else [])
    rows = []
    for tb, r in longer["per_language"].items():
        b, theirs = minibert.get(tb), paper.get(tb)
        rows.append([tb, f"{r['train_words']:,}", *run_cells(short.get(tb)), *run_cells(r),
                     f"{b['upos']:.2f}" if b else "", f"{b['ufeats']:.2f}" if b else ""]
                    + ([f"{theirs:.2f}" if theirs else "", f"{r['upos'] - theirs:+.2f}" if theirs else ""]
                       if paper else []))
    return [f"Per-language Meta-LSTMs trained longer ({longer['minutes']:g} min each; epochs: those seen by the "
            "saved, best-on-dev model):", "", table(header, rows), "", f"- longer runs: `{longer['command']}`", ""]


def render_joint_training(joint: dict, synchronized: dict, minutes: float | None) -> list[str]:
    """The paper's synchronized training (meta inputs detached) against joint end-to-end training."""
    header = ["treebank (dev)", "synchronized UPOS", "UFeats", "epochs", "joint UPOS", "UFeats", "epochs",
              "Δ UPOS (joint − sync.)"]
    rows = [[tb, *run_cells(synchronized.get(tb)), *run_cells(r),
             f"{r['upos'] - synchronized[tb]['upos']:+.2f}" if tb in synchronized else ""]
            for tb, r in joint["per_language"].items()]
    budget = f"{joint['minutes']:g} min each" + ("" if minutes in (None, joint["minutes"]) else
                                                 f"; synchronized runs: {minutes:g} min")
    return ["Training procedure: the paper's synchronized training (the meta model's inputs detached, each model "
            "learns from its own loss; the main table) against joint training (the summed loss trains all three "
            f"models end to end), per-language models ({budget}):", "", table(header, rows), "",
            f"- joint runs: `{joint['command']}`", ""]


def render_distill_ablation(data: dict) -> str:
    """Issue 3: teacher vs distilled vs undistilled student (dev), agreement, corpus counts, GPU commands."""
    res, agree = data["results"], data["agreement_on_dev"]
    names = ["teacher", "distilled", "undistilled"]
    fmt = lambda v: "–" if v is None else f"{v:.2f}"  # noqa: E731
    rows = []
    for tb in sorted(res["teacher"]["files"]):
        row = [tb, res["teacher"]["files"][tb]["words"]]
        for n in names:
            row += [fmt(res[n]["files"][tb]["upos"]), fmt(res[n]["files"][tb]["ufeats"])]
        rows.append(row)
    for key, label in (("macro", "macro"), ("macro_low_resource", "macro, low-resource with dev")):
        row = [f"**{label} ({res['teacher'][key]['treebanks']})**", ""]
        for n in names:
            row += [f"**{fmt(res[n][key]['upos'])}**", f"**{fmt(res[n][key]['ufeats'])}**"]
        rows.append(row)
    header = ["treebank (dev)", "words"] + [f"{n} {m}" for n in names for m in ("UPOS", "UFeats")]
    d = data["deltas"]
    out = ["## Distillation ablation (issue 3; dev, gold tokenization)", "",
           f"Scale: {data['scale']['kind']}. Treebanks: {', '.join(data['scale']['treebanks']) if isinstance(data['scale']['treebanks'], list) else data['scale']['treebanks']} "
           f"(low-resource with dev: {', '.join(data['scale']['low_resource_with_dev'])}; kk_ktb and hy_armtdp "
           "have no dev split here).", "",
           table(header, rows), "",
           f"- distilled − undistilled, macro: UPOS {d['distilled_minus_undistilled']['upos']:+.2f}, "
           f"UFeats {d['distilled_minus_undistilled']['ufeats']:+.2f}; low-resource: "
           f"UPOS {d['distilled_minus_undistilled_low_resource']['upos']:+.2f}, "
           f"UFeats {d['distilled_minus_undistilled_low_resource']['ufeats']:+.2f}",
           f"- distilled − teacher, macro: UPOS {d['distilled_minus_teacher']['upos']:+.2f}, "
           f"UFeats {d['distilled_minus_teacher']['ufeats']:+.2f}",
           "- agreement with the teacher on dev (macro % of words with the same tag): "
           + "; ".join(f"{k.split('_vs_')[0]}: UPOS {v['macro']['upos']:.2f}, UFeats {v['macro']['ufeats']:.2f}"
                       for k, v in agree.items()), ""]
    if data.get("notes"):
        out += [f"- {n}" for n in data["notes"]] + [""]
    out += ["Stages (wall time at this scale):", "",
            table(["stage", "wall s", "command"],
                  [[k, v["wall_seconds"], f"`{v['command']}`"] for k, v in data["stages"].items()]), ""]
    corpus = data.get("corpus_from_all_treebanks", {})
    if corpus.get("languages"):
        langs = corpus["languages"]
        out += [f"Unlabeled corpus from the train text of all treebanks (`{corpus['command']}`): "
                f"{corpus['total']['unique_sentences']:,} sentences, {corpus['total']['unique_words']:,} words "
                f"after filtering and de-duplication:", "",
                table(["language", "sentences", "words"],
                      [[l, f"{v['sentences']:,}", f"{v['words']:,}"] for l, v in sorted(langs.items())]), ""]
    out += ["The full experiment on a GPU:", "", "```"] + list(data["gpu_commands"]) + ["```"]
    return "\n".join(out)


def render_throughput(data: dict) -> str:
    """`polytag tag` end to end on a dev file, and fresh-process start-up."""
    backend = {"auto": "default backend (ONNX int8 when the folder has model.onnx)"}.get(data["backend"],
                                                                                     data["backend"])
    files = data.get("model_files_bytes", {})
    start = data["startup_load_and_one_sentence_s"]
    out = [f"## Tagging speed end to end: `polytag tag`, {backend}, {data['threads']} threads", "",
           f"- input: {Path(data['input']).name}, {data['words']:,} words, CoNLL-U in, CoNLL-U out",
           f"- words/s, whole command (start-up included): **{data['words_per_s_end_to_end']:,}**; "
           f"steady state (start-up subtracted): {data['words_per_s_steady']:,}",
           f"- load the model and tag one sentence in a fresh process: Python API {start['python_api']} s, "
           f"CLI {start['cli']} s (medians of 5)",
           f"- model files: {sum(files.values()) / 2**20:.1f} MiB in all"
           + (" (" + ", ".join(f"{k} {v / 2**20:.1f}" for k, v in files.items() if v > 2**20) + ")" if files else ""),
           f"- machine: {_cpu(data['machine'])}, {data['machine']['platform']}"]
    return "\n".join(out)


def render_onnx_parity(data: dict) -> str:
    """ONNX fp32 / int8 against PyTorch fp32 on every dev file."""
    rows = []
    for name, m in data["macro"].items():
        agree = data["agreement_with_torch_fp32"].get(name)
        drop = data["macro_drop_vs_torch_fp32"][name]
        rows.append([name, f"{m['upos']:.2f}", f"{m['ufeats']:.2f}", f"{drop['upos']:+.2f}", f"{drop['ufeats']:+.2f}",
                     f"{agree['upos']:.2f}" if agree else "(reference)", f"{agree['feats']:.2f}" if agree else "",
                     f"{data['seconds'][name]:.0f}"])
    n = next(iter(data["agreement_with_torch_fp32"].values()), {}).get("words", "")
    return "\n".join(["## ONNX serving parity with PyTorch fp32 (dev, macro over files)", "",
                      table(["backend", "UPOS", "UFeats", "drop UPOS", "drop UFeats",
                             f"same UPOS as torch (% of {n:,} words)" if n else "same UPOS", "same FEATS",
                             "seconds"], rows)])


def render_bench(data: dict) -> str:
    """`polytag bench` already renders its table; add the heading."""
    setup, machine = data["setup"], data.get("machine", {})
    meta = next((r for r in data["rows"] if r["system"] == "meta-lstm"), None)
    notes = [
        f"- inputs: {setup['sentences_per_length']} sentences per length cut from the {setup['inputs']} "
        f"({setup['wordpieces_per_word']} wordpieces per word); batched rows: {setup['batch_size']} sentences "
        f"per call; batch-1 rows: one sentence per call; medians over >= {setup['seconds_per_measurement']} s "
        "per measurement; every time includes polytag's whole tagging path (wordpieces, windows, decoding)",
        f"- student: {setup['student']}; BERT-base: 12 layers, hidden 768, vocabulary 119,547, random "
        "weights (timing does not depend on the weights), same wordpiece sequences as the student",
    ]
    if meta:
        notes.append(f"- Meta-LSTM: {'the trained model ' + str(data['setup'].get('meta_model')) if setup.get('meta_model') else 'random weights, the meta-lstm preset sizes'}"
                     f" ({meta.get('parameters', 0):,} parameters)")
    if machine:
        notes.append("- machine: " + ", ".join(f"{k} {v}" for k, v in machine.items() if not isinstance(v, (dict, list))))
    out = ["## Speed: MiniBERT student vs BERT-base and the Meta-LSTM (paper Table 3)", "", *notes, "",
           data["markdown"].strip()]
    for other in data.get("other_machines", []):  # the same table measured on another CPU before
        out += ["", f"The same table on {_cpu(other.get('machine', {}))} (`{other.get('command', '')}`):", "",
                other["markdown"].strip()]
    return "\n".join(out)


def render_vocab_sizes(data: dict) -> str:
    """WordPiece vocabulary size vs fertility on dev words (how the default size was chosen)."""
    keys = [k for k in data["rows"][0] if k not in ("vocab_size", "actual", "train_seconds")]
    rows = [[f"{r['vocab_size']:,}", f"{r['actual']:,}", *[r[k] for k in keys], r["train_seconds"]]
            for r in data["rows"]]
    return "\n".join([f"## WordPiece vocabulary size (dev words: {data['dev_words']:,})", "",
                      table(["size asked", "size", *keys, "training s"], rows)])


def render_coverage(data: dict) -> str:
    flagged = ", ".join(f"{lang} {'flagged' if ok else 'MISSED'}" for lang, ok in data["uncovered_flagged"].items())
    return "\n".join(["## Language-coverage warning: false warnings on the treebanks' own text", "",
                      f"- files checked (dev, or train where a treebank has no dev): {data['checked']}",
                      f"- false warnings: **{data['false_warnings']}**",
                      f"- text in languages no treebank has: {flagged}", "",
                      "Measured with: `python benchmarks/coverage_check.py ../shared/ud --json docs/results/coverage.json`",
                      ""])


def render_serve_load(data: dict) -> str:
    head = ["clients", "requests", "errors", "words/s", "p50 ms", "p95 ms", "p99 ms"]

    def rows(levels: list) -> list:
        return [[r["clients"], r["requests"], r["errors"], r["words_per_s"], r["p50_ms"], r["p95_ms"], r["p99_ms"]]
                for r in levels]

    unbatched = data.get("one_request_per_model_call")
    lines = ["## `polytag serve` under load (loopback, one 20-word sentence a request)", "",
             table(head, rows(data["levels"])), ""]
    if "tag_words_per_s" in data:
        lines += [f"`polytag tag` on the same sentences: {data['tag_words_per_s']:,} words/s; the server at 32 "
                  f"clients: **{100 * data['share_at_32']:.0f}%** of it. Batching wait "
                  f"{data['batch_wait_ms'] if data['batch_wait_ms'] is not None else 'default'} ms.", ""]
    if unbatched:
        lines += ["Without dynamic batching (`--max-batch-words 1`: one request per model call):", "",
                  table(head, rows(unbatched)), ""]
    if "rss_mb_before_repeat" in data:
        lines += [f"Server RSS after each level: {', '.join(str(r.get('rss_mb_after')) for r in data['levels'])} MB "
                  f"(ONNX Runtime's buffers grow to the largest batch seen); over a second 32-client run of "
                  f"{data['levels'][-1]['requests']:,} requests: {data['rss_mb_before_repeat']} -> "
                  f"{data['rss_mb_after_repeat']} MB. Model threads {data['model_threads']} on {data['cpus']} CPUs, "
                  f"load generator on the same machine.", ""]
    else:
        lines += [f"Server RSS {data['rss_mb_before']} MB before, {data['rss_mb_after']} MB after.", ""]
    command = data.get("command", "python benchmarks/serve_load.py --json docs/results/serve_load.json")
    lines += [f"Measured with: `{command}` (other jobs paused)", ""]
    return "\n".join(lines)


def render_spacy_pipe(data: dict) -> str:
    return "\n".join(["## spaCy component: `nlp.pipe` against polytag's own tagging", "",
                      table(["system", "words", "words/s"],
                            [["spacy.blank + polytag, nlp.pipe", data["spacy_pipe"]["words"],
                              data["spacy_pipe"]["words_per_s"]],
                             ["polytag tag_stream (gold words)", data["polytag_tag_stream"]["words"],
                              data["polytag_tag_stream"]["words_per_s"]]]), "",
                      f"{data['file']}, {data['threads']} threads, spaCy {data['spacy']}.", "",
                      "Measured with: `python benchmarks/spacy_pipe.py ../shared/ud/en_ewt/en_ewt-ud-dev.conllu.xz "
                      "--lang en --json docs/results/spacy_pipe.json`", ""])


def render_corpus_scale(data: dict) -> str:
    rows = [[name, rate] for name, rate in data["words_per_s"].items()]
    return "\n".join(["## Corpus tagging (`polytag tag-corpus`) on this machine", "",
                      table(["run", "words/s"], rows), "",
                      f"{data['words']:,} words in {data['shards']} shards; {data['note']}.", "",
                      "Measured with: `python benchmarks/corpus_scale.py ../shared/ud --json docs/results/corpus_scale.json`",
                      ""])


def render_segmentation(data: dict) -> str:
    systems = sorted({s for r in data["treebanks"].values() for s in r})
    metrics = ("Tokens", "Words", "Sentences", "words_per_s")
    header = ["treebank"] + [f"{s} {m.replace('_per_', '/')}" for s in systems for m in metrics]
    rows = [[tb] + [(r[s][m] if r[s][m] is not None else "-") if s in r else "" for s in systems for m in metrics]
            + ([r["udpipe1"].get("source", "")] if "udpipe1" in r else [])
            for tb, r in sorted(data["treebanks"].items())]
    if any("source" in r.get("udpipe1", {}) for r in data["treebanks"].values()):
        header.append("udpipe1 from")
    macro = [[f"**macro: {name}**", *(v[m] for m in metrics[:3])] for name, v in data["macro"].items()]
    return "\n".join(["## Raw-text segmentation (dev raw text, CoNLL 2018 scorer, F1)", "",
                      "UDPipe 1: its given outputs (`../shared/tools/raw_eval_cases`) where there are, else a "
                      "tokenizer trained here on the treebank's train split with dev as heldout (its early "
                      "stopping sees dev: a small advantage). Its words/s is measured only where it ran here.", "",
                      table(header, rows), "", table(["macro", *metrics[:3]], macro), "",
                      f"UDPipe 1 tokenizer options: `{data.get('udpipe_tokenizer', '-')}`.", ""])


def render_raw_eval(data: dict, title: str = "", options: str = "", stem: str = "raw_eval") -> str:
    metrics = ("Tokens", "Sentences", "Words", "UPOS", "UFeats")
    rows = [[k] + [f"{v[m]:.2f}" for m in metrics] for k, v in sorted(data["files"].items())]
    rows.append(["**macro**"] + [f"**{data['macro'][m]:.2f}**" for m in metrics])
    return "\n".join([f"## Raw text end to end: segment + tag the dev raw text{title} (CoNLL 2018 scorer, F1)", "",
                      table(["file", *metrics], rows), "",
                      f"Measured with: `polytag evaluate --raw ../shared/ud/*/*-ud-dev.conllu.xz{options} "
                      f"--json docs/results/{stem}.json`", ""])


def render_short_raw_texts(data: dict) -> str:
    """Each dev sentence a raw text of its own, beside each file as one text (raw_eval.json)."""
    metrics = ("Tokens", "Words", "UPOS", "UFeats")
    whole_path = RESULTS / "raw_eval.json"
    whole = json.loads(whole_path.read_text(encoding="utf-8")) if whole_path.exists() else None

    def cells(short: dict, key: str) -> list[str]:
        if whole is None or key not in whole["files"]:
            return [f"{short[m]:.2f}" for m in metrics]
        return [f"{short[m]:.2f} ({whole['files'][key][m]:.2f})" for m in metrics]

    rows = [[k, *cells(v, k)] for k, v in sorted(data["files"].items())]
    macro = [f"{data['macro'][m]:.2f}" + (f" ({whole['macro'][m]:.2f})" if whole else "") for m in metrics]
    rows.append(["**macro**", *(f"**{c}**" for c in macro)])
    return "\n".join(["## Short raw texts: each dev sentence a request of its own (CoNLL 2018 scorer, F1)", "",
                      "No hint; each sentence's raw text segmented and tagged alone, as a server request of one "
                      "sentence is (too short for a guess of its treebank). In brackets: the file as one text "
                      "(the section above).", "",
                      table(["file", *metrics], rows), ""])


def render_raw_eval_hint(data: dict) -> str:
    return render_raw_eval(data, ", each file with its own treebank's hint",
                           " --treebank auto", "raw_eval_hint")


def _cpu(info: dict) -> str:
    return f"{info.get('cpus', 2)} x {cpu_label(info)}"


def render_raw_throughput(data: dict) -> str:
    out = ["## `polytag tag --format raw` end to end", "",
           f"- {data['words_out']:,} words out of {data['characters']:,} characters of dev raw text "
           f"({data['files']} files) in {data['seconds']} s: **{data['words_per_s']:,} words/s** "
           f"({data['threads']} threads; {data['note']})",
           f"- cold start + one paragraph: **{data['cold_start_one_paragraph_s']} s**",
           f"- machine: {_cpu(data.get('machine', {}))}", ""]
    others = data.get("other_machines", [])
    if others:
        out += ["The same command on other machines:", "",
                "| machine | words/s | cold start + one paragraph (s) | measured |", "|---|---|---|---|"]
        out += [f"| {_cpu(o.get('machine', {}))} | {o['words_per_s']:,} | {o['cold_start_one_paragraph_s']} "
                f"| {o.get('when', '')} |" for o in others]
        out.append("")
    return "\n".join(out + ["Measured with: `python benchmarks/raw_throughput.py ../shared/ud --json "
                            "docs/results/raw_throughput.json`", ""])


def render_paper_comparison(data: dict) -> str:
    systems = list(data["macro"])

    def cell(pair):
        return f"{pair[0]:.2f} / {pair[1]:.2f}" if pair else "-"

    rows = [[tb, *(cell(r[s]) for s in systems)] for tb, r in data["treebanks"].items()]
    rows.append([f"**macro ({len(data['macro_over'])} treebanks all have)**", *(cell(data["macro"][s]) for s in systems)])
    # before the field existed every gold-token column of ours compared all features
    every = data.get("all_features_columns", [s for s in systems if not s.startswith("paper ") and "raw text" not in s])
    header = [f"{s} †" if s in every else s for s in systems]
    note = ([f"† UFeats there: {OLD_UFEATS}; the other columns compare universal features, as the paper's.", ""]
            if every else [])
    return "\n".join(["## Next to Tsai et al. 2019, Tables 8 and 9 (UPOS / UFeats F1)", "",
                      f"{data['note']}.", "", table(["treebank", *header], rows), "", *note,
                      f"Measured with: `{data.get('command', 'python scripts/paper_comparison.py ../shared/paper')}`",
                      ""])


def render_peers(data: dict) -> str:
    hinted = any("polytag_hint" in r for r in data["treebanks"].values())
    systems = ["polytag", "polytag_hint", "udpipe1"] if hinted else ["polytag", "udpipe1"]
    rows, sums = [], {s: [0.0, 0.0] for s in systems}
    wins = {s: [0, 0] for s in systems[:-1]}
    any_old_metric = False
    for tb, r in data["treebanks"].items():
        theirs = r["udpipe1"]
        cells = []
        for system in systems:
            ours = r.get(system) or r["polytag"]
            old_metric = "allfeats" not in ours
            any_old_metric |= old_metric
            cells.append(f"{ours['upos']:.2f} / {ours['ufeats']:.2f}" + (" †" if old_metric else ""))
            for k, key in enumerate(("upos", "ufeats")):
                sums[system][k] += ours[key]
                if system in wins:
                    wins[system][k] += ours[key] >= theirs[key]
        rows.append([tb, r["polytag"]["words"], *cells, theirs.get("train_s") or "-"])
    n = len(rows)
    rows.append([f"**macro ({n})**", "", *(f"{sums[s][0] / n:.2f} / {sums[s][1] / n:.2f}" for s in systems), ""])
    names = {"polytag": "polytag (shipped)", "polytag_hint": "polytag, own treebank hint", "udpipe1": "UDPipe 1"}
    said = "; ".join(f"{names[s]} at or above UDPipe 1 on {w[0]} of {n} treebanks in UPOS and {w[1]} of {n} in UFeats"
                     for s, w in wins.items())
    return "\n".join(["## Peers: UDPipe 1 trained here on the same train splits (dev, gold tokens, UPOS / UFeats)", "",
                      f"{data['note']}; UDPipe tagger options `{data['udpipe_tagger_options']}`. {said}.", "",
                      table(["treebank", "words", *(names[s] for s in systems), "UDPipe training s"], rows), "",
                      *([f"† UFeats there: {OLD_UFEATS}; the universal-features figure is at least as high.", ""]
                        if any_old_metric else []),
                      "Measured with: `python benchmarks/peers.py ../shared/ud --json docs/results/peers.json` "
                      "(rows are written as they finish; a rerun skips them; `--rescore-polytag` scores a new "
                      "model again and keeps the UDPipe rows)", ""])


def render_treebank_hint(data: dict) -> str:
    arms, shipped = data["arms"], data["shipped"]
    names = list(arms)
    rows = []
    for tb in sorted(shipped["files"]):
        cells = [f"{arms[n]['dev']['files'][tb]['upos']:.2f} / {arms[n]['dev']['files'][tb]['ufeats']:.2f}" for n in names]
        rows.append([tb.removesuffix("-ud-dev"), f"{shipped['files'][tb]['upos']:.2f} / {shipped['files'][tb]['ufeats']:.2f}",
                     *cells])
    rows.append([f"**macro ({len(rows)})**", f"**{shipped['macro']['upos']:.2f} / {shipped['macro']['ufeats']:.2f}**",
                 *(f"**{arms[n]['dev']['macro']['upos']:.2f} / {arms[n]['dev']['macro']['ufeats']:.2f}**" for n in names)])
    runs = "; ".join(f"{n}: {a['minutes']} min, {a['steps']} steps (`{a['command']}`)"
                     for n, a in arms.items() if "own" not in n and not n.startswith("D"))
    return "\n".join(["## Treebank hints (dev, gold tokens, UPOS / UFeats)", "",
                      f"{data['note']}. Runs: {runs}.", "",
                      table(["treebank", "shipped before", *names], rows), "",
                      "Collected with: `python benchmarks/treebank_hint.py --json docs/results/treebank_hint.json`", ""])


def render_ensemble(data: dict) -> str:
    weights = list(data["macro"])
    head = ["treebank", *(f"teacher share {w}" for w in weights)]
    rows = [[tb, *(f"{r[w]['upos']:.2f} / {r[w]['ufeats']:.2f}" for w in weights)] for tb, r in data["treebanks"].items()]
    rows.append([f"**macro ({len(rows)})**", *(f"{data['macro'][w]['upos']:.2f} / {data['macro'][w]['ufeats']:.2f}"
                                               for w in weights)])
    kind = "the frozen-feature e5 teacher" if data["teacher"].endswith(".pt") else "the fine-tuned e5 teacher"
    return "\n".join([f"## The student and {kind} together (UPOS / UFeats, averaged probabilities)", "",
                      f"{data['note']}. Teacher: `{data['teacher']}`; student: `{data['student']}`. "
                      "Share 0: the student alone; 1: the teacher alone.", "",
                      table(head, rows)])


# file stem in docs/results/ -> renderer; sections appear in this order
def render_lexicon_short_texts(data: dict) -> str:
    """The word lexicon when each text is a file or a single sentence."""
    rows = [[way, f"{m['upos']:.2f}", f"{m['ufeats']:.2f}"] for way, m in data.items() if isinstance(m, dict)]
    return "\n".join(["## The word lexicon on short texts (dev, gold tokens, no hint)", "",
                      "Each sentence a text of its own is what a server sees from one-sentence requests: the "
                      "lexicon's guess of the language and treebank has that sentence alone to go by.", "",
                      table(["tagging", "UPOS", "UFeats"], rows), ""])


def render_text_lexicon(data: dict) -> str:
    """The word lexicon with and without its text lexicons, per dev file."""
    ways = list(data["macro"])

    def cells(scores: dict) -> list[str]:
        return [f"{scores[w]['upos']:.2f} / {scores[w]['ufeats']:.2f}" for w in ways]

    rows = [[key, *cells(row)] for key, row in data["files"].items()]
    rows.append(["**macro**", *(f"**{c}**" for c in cells(data["macro"]))])
    changed = data["changed_by_text"]
    return "\n".join(["## The text lexicons (dev, gold tokens, no hint, UPOS / UFeats)", "",
                       f"A word that no train split of its language has is checked against the UPOS it had in "
                       f"text the student and the e5 feature teacher labelled together ({data['text_forms']:,} "
                       f"forms in {data['text_languages']} languages): a UPOS that text never gave it becomes "
                       f"the one it gave most. They changed the UPOS of {changed['words']:,} dev words, "
                       f"{changed['upos right before']:,} right before and {changed['upos right after']:,} "
                       "after. The labelled text and how it was made: docs/experiments.md, \"A text lexicon\".", "",
                       table(["file", *ways], rows), ""])


def render_code_mixed(data: dict) -> str:
    """Pairs of dev files interleaved sentence by sentence, against each apart and the network alone."""
    ways = list(data["macro"])
    rows = []
    for pair, row in data["pairs"].items():
        for treebank, scores in row.items():
            if isinstance(scores, dict):
                rows.append([pair, treebank, *(f"{scores[w]['upos']:.2f} / {scores[w]['ufeats']:.2f}" for w in ways)])
    rows.append(["**macro**", "", *(f"**{data['macro'][w]['upos']:.2f} / {data['macro'][w]['ufeats']:.2f}**"
                                    for w in ways)])
    return "\n".join(["## Text that changes language (dev, gold tokens, no hint)", "",
                      "Two dev files' first sentences interleaved into one text (A1 B1 A2 B2 ...), or joined two "
                      "by two into sentences of two languages (A1+B1, A2+B2, ...); UPOS / UFeats of each file's "
                      "part. The word lexicon takes a sentence's language from the recent sentences unless the "
                      "sentence's own cue words clearly say another; in a sentence with runs of cue words of "
                      "two languages, each word takes the language of the nearest run.", "",
                      table(["pair", "file", *ways], rows), ""])


def render_code_mixed_raw(data: dict) -> str:
    """Pairs of dev files' raw sentences on alternating lines, against each file's lines alone."""
    ways, metrics = list(data["macro"]), ("Tokens", "Sentences", "Words", "UPOS", "UFeats")
    rows = [[pair, treebank, *(" / ".join(f"{scores[w][m]:.2f}" for m in metrics) for w in ways)]
            for pair, row in data["pairs"].items() for treebank, scores in row.items()]
    rows.append(["**macro**", "", *("**" + " / ".join(f"{data['macro'][w][m]:.2f}" for m in metrics) + "**"
                                    for w in ways)])
    return "\n".join(["## Raw text that changes language line by line (dev, no hint)", "",
                      f"Two dev files' first {data['sentences per file']} sentences, their raw texts on alternating "
                      "lines (A1, B1, A2, B2, ...), segmented and tagged as one text, each file's lines scored with "
                      "the CoNLL 2018 scorer: Tokens / Sentences / Words / UPOS / UFeats. Beside them, each file's "
                      "lines alone. A long text is segmented as the treebank guessed from its words; a line whose "
                      "own words say another language (its cue words, with the language identifier agreeing, or "
                      "the identifier alone where it has none) has its multiword tokens, hyphens and sentence "
                      "marks cut as that language cuts them.", "",
                      table(["pair", "file", *ways], rows), ""])


def render_capitals(data: dict) -> str:
    """Text as written, in capitals and lowercased: tagging and segmentation."""
    rows = [[way, f"{data['tagging'][way]['upos']:.2f} / {data['tagging'][way]['ufeats']:.2f}",
             f"{data['segmentation'][way]['tokens']:.2f} / {data['segmentation'][way]['sentences']:.2f}"]
            for way in data["tagging"]]
    return "\n".join(["## Text in capitals and in lowercase (dev, no hint)", "",
                      f"Tagging: gold tokens, UPOS / UFeats, macro over {data['tagging_files']} files. Segmentation: "
                      f"the raw text, Tokens / Sentences span F1, macro over the {data['segmentation_files']} "
                      "files whose casing keeps every character's position. A sentence in capitals reaches "
                      "the tagger lowercased, and a segmenter window in capitals is read as lowercase.", "",
                      table(["text", "tagging", "segmentation"], rows), ""])


def render_one_text(data: dict) -> str:
    """The dev files as one text: each file's scores there and alone."""
    gold, raw = data["gold tokens"], data["raw text"]

    def pair(scores: dict) -> str:
        return f"{scores['upos']:.2f} / {scores['ufeats']:.2f}"

    def raw_cells(scores: dict) -> str:
        return " / ".join(f"{scores[m]:.2f}" for m in ("Words", "UPOS", "UFeats"))

    rows = [[name, pair(gold["alone"][name]), pair(gold["files"][name]), raw_cells(raw["alone"][name]),
             raw_cells(raw["files"][name])] for name in data["files"]]
    whole = raw["whole"]
    return "\n".join(["## The dev files as one text (dev, no hint)", "",
                      f"The {len(data['files'])} dev files joined into one text in name order, tagged from gold "
                      "tokens and from their raw texts (joined by blank lines); each file's part scored against "
                      "it, and the file tagged alone. The treebank each sentence is tagged and segmented as is "
                      "guessed from the words before it, so a file after another is read partly as the one "
                      f"before. The whole text: gold tokens {pair(gold['whole'])} (micro); raw text Tokens / "
                      f"Sentences / Words / UPOS / UFeats {' / '.join(f'{whole[m]:.2f}' for m in whole)} "
                      "(the CoNLL 2018 scorer).", "",
                      table(["file", "gold tokens alone", "in the text", "raw text alone: Words / UPOS / UFeats",
                             "in the text"], rows), ""])


def render_raw_requests(data: dict) -> str:
    """Short raw-text requests with and without the segmenter's treebank guess."""
    rows = [[way, " / ".join(f"{ms:.2f}" for ms in times)] for way, times in data["ms_per_text"].items()]
    return "\n".join(["## Short raw-text requests: the treebank guess's cost (`tagger.tag_text`, 1 thread)", "",
                      f"{data['texts']} texts of six en_ewt dev sentences ({data['mean_chars']} characters on "
                      "average), milliseconds a text, one figure per round (the ways alternated). A text under "
                      "2,000 characters is not guessed for; the last row guesses anyway.", "",
                      table(["segmenting", "ms per text"], rows), ""])


def render_simplified_chinese(data: dict) -> str:
    """zh_gsd sentences in Simplified characters, with and without the character variants."""
    rows = [[name, f"{r['gold tokens']['upos']:.2f} / {r['gold tokens']['ufeats']:.2f}",
             " / ".join(f"{r['raw text'][m]:.2f}" for m in ("Tokens", "Words", "UPOS", "UFeats"))]
            for name, r in data["rows"].items()]
    return "\n".join(["## Simplified Chinese: the character variants (zh_gsd train sentences, not held out)", "",
                      f"zh_gsd's last {data['sentences']} train sentences ({data['words']:,} words), as written "
                      "(Traditional) and converted to Simplified by OpenCC; the model was trained on them in "
                      "Traditional characters, so only the differences mean something. With variants: the "
                      f"segmenter and the tagger read {data['variants']:,} characters that no train split has "
                      "as ones it has: Simplified Chinese as Traditional, full-width punctuation as ASCII "
                      "(core.variants).", "",
                      table(["text", "gold tokens: UPOS / UFeats", "raw text: Tokens / Words / UPOS / UFeats"], rows),
                      ""])


SECTIONS = {
    "default_model": render_default_model,
    "lexicon_short_texts": render_lexicon_short_texts,
    "text_lexicon": render_text_lexicon,
    "code_mixed": render_code_mixed,
    "code_mixed_raw": render_code_mixed_raw,
    "one_text": render_one_text,
    "capitals": render_capitals,
    "simplified_chinese": render_simplified_chinese,
    "paper_comparison": render_paper_comparison,
    "peers": render_peers,
    "treebank_hint": render_treebank_hint,
    "ensemble": render_ensemble,
    "ensemble_feature_teacher": render_ensemble,
    "raw_eval": render_raw_eval,
    "raw_eval_hint": render_raw_eval_hint,
    "short_raw_texts": render_short_raw_texts,
    "segmentation": render_segmentation,
    "raw_throughput": render_raw_throughput,
    "raw_requests": render_raw_requests,
    "coverage": render_coverage,
    "tag_throughput": render_throughput,
    "tag_throughput_torch": render_throughput,
    "onnx_parity": render_onnx_parity,
    "bench": render_bench,
    "vocab_sizes": render_vocab_sizes,
    "meta_lstm": render_meta_lstm,
    "distill_ablation": render_distill_ablation,
    "serve_load": render_serve_load,
    "spacy_pipe": render_spacy_pipe,
    "corpus_scale": render_corpus_scale,
}


def ufeats_note() -> str:
    """What UFeats and AllFeats mean, and where they differ for the shipped model (from its record)."""
    note = ("**UFeats** is the CoNLL 2018 shared task's (its scorer, the paper's tables): a word is right when its "
            "*universal* features match; language-specific ones such as Hungarian's Number[psor] are not compared. "
            "**AllFeats** compares every feature. Until 2026-12-07 polytag's gold-token scorer reported AllFeats "
            "under the name UFeats (raw-text scores always followed the official scorer); sections measured before "
            "then say so.")
    shipped = RESULTS / "default_model.json"
    files = json.loads(shipped.read_text(encoding="utf-8"))["evaluation"]["files"] if shipped.exists() else {}
    apart = sorted(((r["ufeats"] - r["allfeats"], k.removesuffix("-ud-dev"), r) for k, r in files.items()
                    if "allfeats" in r and r["ufeats"] - r["allfeats"] >= 0.05), reverse=True)
    if apart:
        note += (" For the shipped model they differ by 0.05 or more on " + ", ".join(
            f"{name} ({r['ufeats']:.2f} against {r['allfeats']:.2f})" for _, name, r in apart) + ".")
    return note


OFFICIAL_UFEATS = {"raw_eval", "raw_eval_hint", "short_raw_texts", "simplified_chinese", "one_text"}  # the official definition (core.ud_eval; the
# gold-token scorer since 2026-12-07)


def main() -> int:
    parts = ["# polytag results", "",
             "Generated by `python scripts/make_results.py` from the JSON files in `docs/results/`; "
             "each section names the command that measured it.", "", ufeats_note(), ""]
    for stem, render in SECTIONS.items():
        path = RESULTS / f"{stem}.json"
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
        parts.append(render(data))
        if '"ufeats"' in text and '"allfeats"' not in text and stem not in OFFICIAL_UFEATS:
            parts += ["", f"UFeats in this section: {OLD_UFEATS}.", ""]
        if data.get("command"):
            parts += ["", f"Measured with: `{data['command']}`", ""]
    (ROOT / "docs" / "results.md").write_text("\n".join(parts).rstrip() + "\n", encoding="utf-8")
    print(f"wrote {ROOT / 'docs' / 'results.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
