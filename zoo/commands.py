"""The CLI verbs that touch data and models: ``data``, ``train``, ``evaluate``, ``predict``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from zoo.console import err, out, print_json, table
from zoo.errors import ZooError

DEFAULT_RECIPE = "imdb-lstm"


def cmd_data(args: argparse.Namespace) -> None:
    """Prepare a dataset (download, extract, tokenize, vocabulary) and say what was found."""
    from zoo.data.prepare import prepare_data, summary_table
    from zoo.plugins import get_registry
    from zoo.spec import load_spec

    overrides = [f"data.dataset.type={args.dataset}", *args.overrides]
    spec = load_spec(args.spec, overrides, values={"data.source": args.source} if args.source else None)
    prepared = prepare_data(spec, get_registry(), console=err())
    if args.json:
        print_json(prepared.info)
    else:
        out().print(summary_table(prepared))


def cmd_train(args: argparse.Namespace) -> None:
    """Train a spec (or resume a run) and print the result table."""
    from zoo.spec import load_spec
    from zoo.trainer import train

    if args.resume:
        summary = train(resume=args.resume, overrides=args.overrides)
    else:
        summary = train(load_spec(args.spec, args.overrides), out=args.out, force=args.force)
    if args.json:
        print_json(summary)
        return
    test = summary["test"]
    out().print(
        table(
            f"{summary['name']}: result",
            ["metric", "value"],
            [
                ["test accuracy", f"{test['accuracy']:.4f}"],
                ["test loss", f"{test['loss']:.4f}"],
                ["best epoch", f"{summary['best_epoch']} of {summary['epochs_run']}"],
                ["seconds per epoch (train)", f"{summary['train_seconds_per_epoch']:.1f}"],
                ["parameters", f"{summary['parameters']:,}"],
                ["run directory", summary["run_dir"]],
            ],
        )
    )


def cmd_evaluate(args: argparse.Namespace) -> None:
    """Metrics of a run's best checkpoint on the test (or valid) split."""
    from zoo.classifier import load
    from zoo.data.prepare import prepare_data
    from zoo.plugins import get_registry
    from zoo.trainer import evaluate

    classifier = load(args.run, device=args.device)
    spec = classifier.spec
    prepared = prepare_data(spec, get_registry(), console=err())
    if prepared.vocab.tokens != classifier.vocab.tokens:
        raise ZooError(f"the data now give a different vocabulary than {args.run}/vocab.json; was the source changed?")
    split = prepared.splits[args.split]
    metrics = evaluate(classifier.model, split, spec, classifier.device, classifier.task)
    if args.json:
        print_json({"run": args.run, "split": args.split, "task": classifier.task.name, **metrics})
        return
    show_metrics(metrics, classifier.labels, f"{args.run} on {args.split} ({metrics['count']} texts)")


#: The summary figures ``zoo evaluate`` prints, in order, where the task has them.
SUMMARY_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "macro_f1", "micro_f1", "weighted_f1",
                   "subset_accuracy", "hamming_loss", "mean_absolute_error", "accuracy_within_1", "loss")


def show_metrics(metrics: dict[str, Any], labels: list[str], title: str) -> None:
    """The metrics of one evaluation as tables: summary, per class, confusion matrix."""
    from rich.markup import escape

    def number(value: Any) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    rows = [[name, number(metrics[name])] for name in SUMMARY_METRICS if name in metrics]
    out().print(table(escape(title), ["metric", "value"], rows))
    per_class = metrics.get("per_class", {})
    out().print(table("per class", ["label", "precision", "recall", "f1", "support"],
                      [[escape(label), number(s["precision"]), number(s["recall"]), number(s["f1"]), s["support"]]
                       for label, s in per_class.items()]))
    if "confusion" in metrics:
        names = [escape(label) for label in labels]
        out().print(table("confusion (rows: true, columns: predicted)", ["", *names],
                          [[name, *row] for name, row in zip(names, metrics["confusion"])]))


def _read_stdin_lines() -> list[tuple[str | None, str | None]]:
    """``(text, error)`` per stdin line; a line that is not UTF-8 gets an error, not a crash."""
    lines = []
    for number, raw in enumerate(sys.stdin.buffer.read().splitlines(), 1):
        try:
            lines.append((raw.decode("utf-8"), None))
        except UnicodeDecodeError as exc:
            lines.append((None, f"line {number}: not UTF-8 ({exc.reason} at byte {exc.start})"))
    return lines


def cmd_predict(args: argparse.Namespace) -> int:
    """Label and probability per text (arguments, or one per line of stdin with ``-``)."""
    from zoo.classifier import load

    classifier = load(args.run, device=args.device)
    items: list[tuple[str | None, str | None]] = []
    for text in args.texts:
        items.extend(_read_stdin_lines() if text == "-" else [(text, None)])
    if not items:
        raise ZooError("no text to predict; pass texts as arguments or '-' to read lines from stdin")
    valid = [text for text, error in items if error is None]
    predictions = iter(classifier.predict(valid, top_k=args.top_k))
    results: list[dict[str, Any]] = []
    for text, error in items:
        result = {"error": error} if error else next(predictions)
        results.append({"text": text, **result})
    if args.json:
        print_json(results)
    else:
        rows = [[_label_text(r["label"]) if "label" in r else "[red]error[/]",
                 f"{r['probability']:.4f}" if "probability" in r else r["error"],
                 _preview(r["text"])] for r in results]
        out().print(table(None, ["label", "probability", "text"], rows))
    return 1 if any("error" in r for r in results) else 0


def _label_text(label: str | list[str]) -> str:
    """A label for a table: a multilabel prediction's labels joined, markup escaped."""
    from rich.markup import escape

    return escape(", ".join(label) if isinstance(label, list) else label)


def _preview(text: str | None, width: int = 60) -> str:
    from rich.markup import escape

    if text is None:
        return ""
    flat = " ".join(text.split())
    return escape(flat if len(flat) <= width else flat[: width - 1] + "…")


def add_verbs(verb, add_spec_arguments) -> None:
    """Add the data and model verbs to the CLI's parser."""
    sub = verb("data", cmd_data, "prepare a dataset and print what it holds")
    sub.add_argument("dataset", nargs="?", default="imdb", help="dataset name (default: imdb)")
    sub.add_argument("--spec", default=DEFAULT_RECIPE, help=f"spec whose data section to use (default: {DEFAULT_RECIPE})")
    sub.add_argument("--source", help="path or URL of the data (else the dataset's default)")
    sub.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")
    sub.add_argument("--json", action="store_true", help="print JSON")

    sub = verb("train", cmd_train, "train a spec into a run directory")
    add_spec_arguments(sub, default=DEFAULT_RECIPE)
    sub.add_argument("--out", help="run directory (default: runs/NAME-TIMESTAMP)")
    sub.add_argument("--resume", metavar="RUN", help="continue the unfinished run in RUN")
    sub.add_argument("--force", action="store_true", help="replace what --out already holds")
    sub.add_argument("--json", action="store_true", help="print the summary as JSON")

    sub = verb("evaluate", cmd_evaluate, "metrics of a trained run")
    sub.add_argument("run", help="run directory")
    sub.add_argument("--split", choices=["test", "valid"], default="test")
    _add_device(sub)
    sub.add_argument("--json", action="store_true", help="print JSON")

    sub = verb("predict", cmd_predict, "label texts with a trained run")
    sub.add_argument("run", help="run directory")
    sub.add_argument("texts", nargs="+", metavar="TEXT", help="texts to label; '-' reads one per line from stdin")
    sub.add_argument("--top-k", type=_positive_int, metavar="K",
                     help="keep the K most probable labels in each answer's probabilities (default: all)")
    _add_device(sub)
    sub.add_argument("--json", action="store_true", help="print JSON")

    from zoo.cli_serve import add_serve_verb

    add_serve_verb(verb)


def _add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu",
                        help="where to run the model (default: cpu, wherever the run was trained)")


def _positive_int(text: str) -> int:
    value = int(text) if text.strip().isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value
