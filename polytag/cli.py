"""The `polytag` command: tag, evaluate, train (and the subcommands later modules add).

Every user error ends as one line on stderr (`polytag: error: <file>:<line>: ...`) and
exit status 2; output already written stays whole sentences.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .conllu_io import READERS, WRITERS, InputError


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--batch-size", type=int, default=64, help="encoder windows per batch")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx"],
                   help="auto: ONNX Runtime when the model folder has model.onnx, else PyTorch")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    p.add_argument("--x-second-best", action="store_true",
                   help="where the best UPOS is X, use the second best (code-mixed text)")


def _load_tagger(args):
    from . import DEFAULT_MODEL  # noqa: PLC0415
    from .predict import Tagger  # noqa: PLC0415

    if args.device == "cuda":
        import torch  # noqa: PLC0415

        if not torch.cuda.is_available():
            raise InputError("--device cuda: no CUDA device is available")
    folder = Path(args.model) if args.model else DEFAULT_MODEL
    return Tagger.load(folder, device=args.device, batch_size=args.batch_size,
                       backend=args.backend, threads=args.threads)


def cmd_tag(args) -> None:
    tagger = _load_tagger(args)
    reader = READERS[args.format]
    writer = WRITERS[args.output_format]
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    try:
        for sentence, upos, feats in tagger.tag_stream(reader(args.input), args.x_second_best):
            out.write(writer(sentence, upos, feats))
        out.flush()
    finally:
        if out is not sys.stdout:
            out.close()


def cmd_evaluate(args) -> None:
    from .evaluate import evaluate_files, format_table, write_json  # noqa: PLC0415

    tagger = _load_tagger(args)
    result = evaluate_files(tagger, args.files, args.x_second_best)
    print(format_table(result))
    if args.json:
        write_json(result, args.json)


def cmd_train(args) -> None:
    from .train import TrainConfig, train  # noqa: PLC0415

    values = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__ and v is not None}
    if args.resume and (Path(args.output) / "train_config.json").exists():
        saved = json.loads((Path(args.output) / "train_config.json").read_text(encoding="utf-8"))
        values = {**saved, **{k: v for k, v in values.items() if k in ("output", "device", "threads")}}
    train(TrainConfig.from_dict(values), resume=args.resume)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="polytag", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tag", help="tag CoNLL-U, plain text or JSON lines")
    p.add_argument("input", nargs="?", default="-", help="input file (.gz/.xz ok) or - for stdin")
    p.add_argument("--format", default="conllu", choices=sorted(READERS))
    p.add_argument("--output-format", default=None, choices=sorted(WRITERS),
                   help="default: jsonl for jsonl input, else conllu")
    p.add_argument("--output", "-o", default=None, help="output file (default stdout)")
    _add_model_args(p)
    p.set_defaults(func=cmd_tag)

    p = sub.add_parser("evaluate", help="UPOS/UFeats scores on gold CoNLL-U files (CoNLL 2018 metric)")
    p.add_argument("files", nargs="+")
    p.add_argument("--json", default=None, help="write the scores as JSON here")
    _add_model_args(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("train", help="train a tagger on UD treebanks")
    p.add_argument("data", help="a UD release folder or the shared MANIFEST.tsv layout")
    p.add_argument("--output", "-o", required=True, help="model folder to write")
    p.add_argument("--treebanks", help="comma-separated treebank ids or language codes (default all)")
    p.add_argument("--encoder", help="preset (minibert, bert-base, tiny) or a HF checkpoint path/id")
    p.add_argument("--init", help="polytag model folder to start from (e.g. a distilled student)")
    p.add_argument("--tokenizer", help="tokenizer folder to reuse instead of training a vocabulary")
    p.add_argument("--vocab-size", type=int)
    p.add_argument("--max-len", type=int)
    p.add_argument("--morph-heads", help="bundle, factored or bundle,factored")
    p.add_argument("--morph-decode", choices=["bundle", "factored", "auto"])
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--warmup", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--clip", type=float)
    p.add_argument("--accumulate", type=int)
    p.add_argument("--dropout", type=float)
    p.add_argument("--sampling-temperature", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int)
    p.add_argument("--max-minutes", type=float, help="time budget; the LR schedule follows it")
    p.add_argument("--checkpoint-every", type=int)
    p.add_argument("--save-half", action="store_true", default=None, help="save fp16 weights")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT/checkpoint")
    p.set_defaults(func=cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "output_format", "unset") is None:
        args.output_format = "jsonl" if args.format == "jsonl" else "conllu"
    try:
        args.func(args)
    except InputError as err:
        print(f"polytag: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("polytag: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
