"""The CLI verbs that touch data and models: ``data``, ``train``, ``evaluate``, ``predict``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zoo.cli_sweep import add_verb as add_sweep_verb
from zoo.console import err, out, print_json, safe, table
from zoo.errors import ZooError
from zoo.limits import MAX_PARAMETERS, MAX_TEXT_CHARS

DEFAULT_RECIPE = "imdb-lstm"


def cmd_data(args: argparse.Namespace) -> None:
    """Prepare a dataset (download, extract, tokenize, vocabulary) and say what was found."""
    from zoo.data.prepare import prepare_data, summary_table
    from zoo.plugins import get_registry
    from zoo.spec import load_spec

    # a dataset named on the command line replaces the spec's; else the spec's own is used
    overrides = [*([f"data.dataset.type={args.dataset}"] if args.dataset else []), *args.overrides]
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

    if args.source and not args.resume:
        raise ZooError("--source goes with --resume (a new run names its data with --set data.source=...)")
    if args.resume:
        ignored = [name for name, given in (("a SPEC", args.spec != DEFAULT_RECIPE), ("--out", args.out is not None),
                                            ("--force", args.force)) if given]
        if ignored:  # each would be silently ignored: the run continues in its folder, on its own spec
            raise ZooError(f"--resume continues {args.resume} in its own folder with its own spec; "
                           f"{' and '.join(ignored)} cannot go with it (to train a new run, leave out --resume)")
        summary = train(resume=args.resume, overrides=args.overrides, source=args.source,
                        max_parameters=args.max_parameters)
    else:
        summary = train(load_spec(args.spec, args.overrides), out=args.out, force=args.force,
                        max_parameters=args.max_parameters)
    if args.json:
        print_json(summary)
        return
    test = summary["test"]
    out().print(
        table(
            f"{safe(summary['name'])}: result",
            ["metric", "value"],
            [
                ["test accuracy", f"{test['accuracy']:.4f}"],
                ["test loss", f"{test['loss']:.4f}"],
                ["best epoch", f"{summary['best_epoch']} of {summary['epochs_run']}"],
                ["seconds per epoch (train)", f"{summary['train_seconds_per_epoch']:.1f}"],
                ["parameters", f"{summary['parameters']:,}"],
                ["run directory", safe(summary["run_dir"])],
            ],
        )
    )


def cmd_evaluate(args: argparse.Namespace) -> None:
    """Metrics of a run's best checkpoint on the test (or valid) split."""
    from zoo.classifier import load
    from zoo.data.prepare import prepare_data
    from zoo.plugins import get_registry
    from zoo.rundir import with_data_source
    from zoo.runfiles import check_same_vocabulary
    from zoo.trainer import evaluate

    classifier = load(args.run, device=args.device, max_parameters=args.max_parameters)
    if args.input:
        if args.source:
            raise ZooError("give --input FILE or --source DATA, not both")
        split, where = _labelled_input(classifier, args), args.input
        source = args.input
    else:
        registry = get_registry()
        spec, note = with_data_source(classifier.spec, args.source, registry)
        if note:
            err().print(f"data: {safe(note)}", highlight=False)
        prepared = prepare_data(spec, registry, console=err())
        check_same_vocabulary(classifier.vocab, prepared.vocab, Path(args.run))
        split, where, source = prepared.splits[args.split], args.split, prepared.info["source"]
    metrics = evaluate(classifier.model, split, classifier.spec, classifier.device, classifier.task)
    if args.json:
        print_json({"run": args.run, "split": where, "task": classifier.task.name, "source": source, **metrics})
        return
    show_metrics(metrics, classifier.labels, f"{args.run} on {where} ({metrics['count']} texts)")


def _labelled_input(classifier: Any, args: argparse.Namespace) -> Any:
    """``--input FILE`` read with the run's (or the given) columns, encoded like its training data."""
    from zoo.data.encode import encode_texts
    from zoo.data.prepare import label_array
    from zoo.plugins import get_registry
    from zoo.score_files import read_labelled_file

    raw = read_labelled_file(classifier, get_registry(), args.input, text_columns=args.text_columns,
                             label_column=args.label_column, delimiter=args.delimiter, encoding=args.encoding)
    labels = label_array(raw.labels, len(classifier.labels), classifier.task.name == "multilabel")
    return encode_texts(raw.texts, classifier.tokenizer, classifier.vocab, labels)


#: The summary figures ``zoo evaluate`` prints, in order, where the task has them.
SUMMARY_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "macro_f1", "micro_f1", "weighted_f1",
                   "subset_accuracy", "hamming_loss", "mean_absolute_error", "accuracy_within_1", "loss")


def show_metrics(metrics: dict[str, Any], labels: list[str], title: str) -> None:
    """The metrics of one evaluation as tables: summary, per class, confusion matrix."""
    def number(value: Any) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    rows = [[name, number(metrics[name])] for name in SUMMARY_METRICS if name in metrics]
    out().print(table(safe(title), ["metric", "value"], rows))
    per_class = metrics.get("per_class", {})
    out().print(table("per class", ["label", "precision", "recall", "f1", "support"],
                      [[safe(label), number(s["precision"]), number(s["recall"]), number(s["f1"]), s["support"]]
                       for label, s in per_class.items()]))
    if "confusion" in metrics:
        names = [safe(label) for label in labels]
        out().print(table("confusion (rows: true, columns: predicted)", ["", *names],
                          [[name, *row] for name, row in zip(names, metrics["confusion"])]))


def cmd_predict(args: argparse.Namespace) -> int:
    """Label and probability per text (arguments, or one per line of stdin with ``-``).

    Stdin is read line by line and answered a batch at a time, as JSON Lines with ``--json`` (a
    table per batch without it), so memory stays bounded whatever the input; texts longer than
    ``--max-chars`` are cut, with a warning naming the line. Arguments alone give one table or
    one JSON array. The exit status is 1 when some text got an error instead of a label.
    """
    from zoo.textlines import batches, nothing_to_read

    classifier = _predictor(args)
    if args.input or args.output:
        return _predict_file(classifier, args)
    if not args.texts:
        raise ZooError("no text to predict; pass texts as arguments, '-' to read lines from stdin, "
                       "or --input FILE --output FILE")
    streamed = "-" in args.texts
    failed = 0
    collected: list[dict[str, Any]] = []
    waiting = (lambda: nothing_to_read(getattr(sys.stdin, "buffer", None))) if streamed else None
    for batch in batches(_texts(args.texts, args.max_chars), waiting=waiting):
        valid = [text for text, error in batch if error is None]
        predictions = iter(classifier.predict(valid, top_k=args.top_k))
        results = [{"text": text, **({"error": error} if error else next(predictions))} for text, error in batch]
        failed += sum("error" in result for result in results)
        if not streamed:
            collected += results
        elif args.json:
            for result in results:
                print_json(result, indent=None)
        else:
            _print_answers(results)
    if not streamed and args.json:
        print_json(collected)
    elif not streamed:
        _print_answers(collected)
    return 1 if failed else 0


def _predictor(args: argparse.Namespace) -> Any:
    """The run's classifier, or for an export folder or pack the torch-free runtime's model."""
    from zoo.runtime import is_export

    if not is_export(args.run):
        from zoo.classifier import load

        return load(args.run, device=args.device, max_parameters=args.max_parameters)
    if args.device != "cpu":
        raise ZooError(f"{args.run} is an export, which runs on the CPU; --device applies to run directories")
    from zoo.runtime import load as load_export

    return load_export(args.run, max_parameters=args.max_parameters, trust_program=args.trust_program)


def _texts(arguments: list[str], max_chars: int) -> Iterator[tuple[str | None, str | None]]:
    """``(text, error)`` per argument, and per stdin line for each ``-``, cut to ``max_chars``."""
    from zoo.textlines import read_lines

    def warn(message: str) -> None:
        err().print(f"[yellow]warning:[/] {safe(message)}", highlight=False)

    for position, text in enumerate(arguments, 1):
        if text == "-":
            try:
                yield from read_lines(_stdin(), max_chars, warn)
            except OSError as exc:  # a descriptor opened only for writing, a device error
                raise ZooError(f"'-' reads texts from stdin, which cannot be read: {exc.strerror or exc}") from None
            continue
        if len(text) > max_chars:
            warn(f"text {position} is longer than {max_chars:,} characters (--max-chars); only its first "
                 f"{max_chars:,} are used")
        yield text[:max_chars], None


def _stdin() -> Any:
    """Standard input as bytes, or an error when there is none to read (``zoo predict RUN - <&-``,
    where Python's ``sys.stdin`` is ``None``, or a descriptor opened only for writing)."""
    stream = getattr(sys.stdin, "buffer", None)
    try:
        readable = stream is not None and stream.readable()
    except ValueError:  # closed
        readable = False
    if not readable:
        raise ZooError("'-' reads texts from stdin, which is closed or not readable; "
                       "pipe them in (... | zoo predict RUN -) or pass them as arguments")
    return stream


def _print_answers(results: list[dict[str, Any]]) -> None:
    rows = [[_label_text(r["label"]) if "label" in r else "[red]error[/]",
             f"{r['probability']:.4f}" if "probability" in r else safe(r["error"]),
             _preview(r["text"])] for r in results]
    out().print(table(None, ["label", "probability", "text"], rows))


def _predict_file(classifier: Any, args: argparse.Namespace) -> int:
    """``--input FILE --output FILE``: every row with its prediction; a summary on stderr."""
    from zoo.score_files import predict_file

    if not (args.input and args.output):
        raise ZooError("--input and --output go together: zoo predict RUN --input FILE --output FILE")
    if args.texts:
        raise ZooError("give texts or --input FILE, not both")
    if Path(args.input).resolve() == Path(args.output).resolve():
        raise ZooError(f"--output {args.output} is the input file; write the predictions to another file")
    done = predict_file(classifier, args.input, args.output, text_columns=args.text_columns, top_k=args.top_k,
                        prefix=args.column_prefix, delimiter=args.delimiter, encoding=args.encoding)
    rate = done["rows"] / max(done["seconds"], 1e-9)
    err().print(f"{done['rows']:,} rows labelled into {safe(done['output'])} in {done['seconds']:.1f} s "
                f"({rate:,.0f} rows/s)", highlight=False)
    if done["unlabelled"]:
        err().print(f"[yellow]warning:[/] {done['unlabelled']:,} rows got no label: the model's output for their "
                    "text is NaN or infinite (their prediction cells are empty)", highlight=False)
        return 1
    return 0


def _label_text(label: str | list[str]) -> str:
    """A label for a table: a multilabel prediction's labels joined, made safe to print."""
    return ", ".join(safe(name) for name in label) if isinstance(label, list) else safe(label)


def _preview(text: str | None, width: int = 60) -> str:
    if text is None:
        return ""
    flat = " ".join(text[: width * 4].split())
    return safe(flat if len(flat) <= width else flat[: width - 1] + "…")


def add_verbs(verb, add_spec_arguments) -> None:
    """Add the data and model verbs to the CLI's parser."""
    sub = verb("data", cmd_data, "prepare a dataset and print what it holds")
    sub.add_argument("dataset", nargs="?", metavar="DATASET",
                     help="a dataset name, with its defaults, in place of the spec's dataset")
    sub.add_argument("--spec", default=DEFAULT_RECIPE,
                     help=f"spec (file or recipe) whose data section to use (default: {DEFAULT_RECIPE})")
    sub.add_argument("--source", help="path or URL of the data (else the spec's or the dataset's default)")
    sub.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                     help="override a field of the spec, e.g. --set data.limit=1000")
    sub.add_argument("--json", action="store_true", help="print JSON")

    sub = verb("train", cmd_train, "train a spec into a run directory")
    add_spec_arguments(sub, default=DEFAULT_RECIPE)
    sub.add_argument("--out", help="run directory (default: runs/NAME-TIMESTAMP)")
    sub.add_argument("--resume", metavar="RUN", help="continue the unfinished run in RUN")
    sub.add_argument("--force", action="store_true", help="replace what --out already holds")
    _add_source(sub, "--resume: the data to continue on, in place of the run's recorded data.source")
    _add_max_parameters(sub)
    sub.add_argument("--json", action="store_true", help="print the summary as JSON")

    add_sweep_verb(verb)

    sub = verb("evaluate", cmd_evaluate, "metrics of a trained run")
    sub.add_argument("run", help="run directory")
    sub.add_argument("--split", choices=["test", "valid"], default="test")
    sub.add_argument("--input", metavar="FILE", help="score a labelled table (.csv .tsv .jsonl .parquet) instead")
    _add_table_options(sub, label=True)
    _add_source(sub, "the data to evaluate on, in place of the run's recorded data.source")
    _add_device(sub)
    _add_max_parameters(sub)
    sub.add_argument("--json", action="store_true", help="print JSON")

    sub = verb("predict", cmd_predict, "label texts with a trained run, an export or a pack")
    sub.add_argument("run", help="run directory, export folder (zoo export) or pack (zoo pack)")
    sub.add_argument("texts", nargs="*", metavar="TEXT",
                     help="texts to label; '-' reads one per line from stdin (answered as JSON Lines with --json)")
    sub.add_argument("--input", metavar="FILE", help="label every row of a table (.csv .tsv .jsonl .parquet, .gz)")
    sub.add_argument("--output", metavar="FILE", help="where the labelled table goes (format by suffix)")
    sub.add_argument("--column-prefix", default="", metavar="P",
                     help="prefix of the columns a prediction adds (label, probability, p_<label>)")
    _add_table_options(sub, label=False)
    sub.add_argument("--top-k", type=_positive_int, metavar="K",
                     help="keep the K most probable labels in each answer (default: all)")
    sub.add_argument("--max-chars", type=_positive_int, default=MAX_TEXT_CHARS, metavar="N",
                     help=f"use the first N characters of a longer text, with a warning (default: {MAX_TEXT_CHARS:,})")
    sub.add_argument("--trust-program", action="store_true",
                     help="an export of --format torch: load its model.pt2, which torch reads partly with pickle "
                          "(only for programs you made or trust)")
    _add_device(sub)
    _add_max_parameters(sub)
    sub.add_argument("--json", action="store_true", help="print JSON")

    from zoo.cli_serve import add_serve_verb
    from zoo.export.commands import add_verbs as add_sharing_verbs

    add_serve_verb(verb)
    add_sharing_verbs(verb)


def _add_table_options(parser: argparse.ArgumentParser, label: bool) -> None:
    parser.add_argument("--text-column", dest="text_columns", action="append", metavar="C",
                        help="the text column (repeat to join several; default: the run's, else 'text')")
    if label:
        parser.add_argument("--label-column", metavar="C", help="the label column (default: the run's, else 'label')")
    parser.add_argument("--delimiter", help="CSV/TSV: the field delimiter (default: by suffix)")
    parser.add_argument("--encoding", default="utf-8", help="text formats: the file's encoding (default: utf-8)")


def _add_source(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--source", metavar="PATH", help=f"{help} (a dataset's variable such as "
                        "ZOO_IMDB_SOURCE does the same when set)")


def _add_max_parameters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-parameters", type=_positive_int, default=MAX_PARAMETERS, metavar="N",
                        help=f"refuse a model of more parameters before building it (default: {MAX_PARAMETERS:,})")


def _add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu",
                        help="where to run the model (default: cpu, wherever the run was trained)")


def _positive_int(text: str) -> int:
    value = int(text) if text.strip().isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value
