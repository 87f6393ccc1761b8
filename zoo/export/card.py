"""The model card: ``RUN/README.md`` (and an export's), in the Hugging Face model-card layout.

YAML front matter (library, tags, datasets, license, the test metrics with their values in a
``model-index``), then what the model is (in words and as the spec's YAML), its data and split,
the results on the test and validation splits (per class where there are several), the learning
curves, how to use it, its limitations and the versions it was made with. Every finished run
writes one; ``zoo card RUN`` writes it again (for runs made before cards). The figures are
``summary.json``'s, unrounded in the front matter.

Labels, names, paths and texts in a run are received data: the front matter is written by a YAML
dumper (never by string formatting), Markdown text has every punctuation character escaped, and
code blocks are fenced with more backticks than they contain.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from zoo.io import atomic_write_text
from zoo.runfiles import Epoch, RunInfo, Summary, read_file, read_json

#: Figures per task in the order the card shows them (as ``zoo evaluate`` does).
METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "macro_f1", "micro_f1", "weighted_f1",
           "subset_accuracy", "hamming_loss", "mean_absolute_error", "accuracy_within_1", "loss")
#: Metrics of the epochs' records (``metrics.jsonl``), for runs whose summary has no ``valid``.
HISTORY_METRICS = {"accuracy": "valid_accuracy", "macro_f1": "valid_macro_f1", "loss": "valid_loss"}


def md(text: Any) -> str:
    """``text`` as literal Markdown: punctuation backslash-escaped, line breaks and control
    characters shown as escapes (a label cannot open a heading, a link, a table cell or HTML)."""
    shown = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(text))
    return re.sub(r"([\\`*_{}\[\]<>()#+!|~&$])", r"\\\1", shown)


def fenced(text: str, language: str = "") -> str:
    """``text`` in a code block whose fence is longer than any run of backticks in it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def _number(value: Any) -> str:
    return "n/a" if not isinstance(value, (int, float)) or isinstance(value, bool) else f"{value:.4f}"


def write_card(run_dir: Any, spec: Any, registry: Any = None, figures: dict[str, Any] | None = None) -> Path:
    """Write ``RUN/README.md`` for the finished run ``run_dir`` (a :class:`zoo.rundir.RunDir`)."""
    path = run_dir.writable(run_dir.card_file)
    atomic_write_text(path, card_text(run_dir, spec, registry, figures))
    return path


def read_history(run_dir: Any) -> list[dict[str, Any]]:
    """The run's epochs (``metrics.jsonl``), each line checked; none when the file is missing."""
    from zoo.errors import RunError
    from zoo.limits import MAX_JSON_BYTES
    from zoo.runfiles import validated

    path = run_dir.metrics_file
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(read_file(path, MAX_JSON_BYTES, run_dir.path).decode("utf-8", "replace").splitlines(), 1):
        try:
            record = json.loads(line)
        except ValueError:
            raise RunError(f"{path}: line {number} is not JSON") from None
        records.append(validated(Epoch, record, f"{path}, line {number}").model_dump())
    return records


def card_text(run_dir: Any, spec: Any, registry: Any = None, figures: dict[str, Any] | None = None,
              export: dict[str, Any] | None = None) -> str:
    """The card of the finished run ``run_dir``; ``export`` (an export's ``export.json``) makes it
    the card of that export: the same model, used from the export folder."""
    summary = read_json(run_dir.summary_file, Summary, run_dir.path).model_dump()
    info = read_json(run_dir.run_file, RunInfo, run_dir.path).model_dump() if run_dir.run_file.exists() else None
    history = read_history(run_dir)
    figures = figures or summary.get("data")
    if figures is None and registry is not None:
        figures = _figures_at_hand(run_dir, spec, registry)
    name = summary.get("name") or spec.name
    test = summary.get("test") or {}
    valid = summary.get("valid") or _valid_from_history(history, summary.get("best_epoch"))
    sections = [
        _front_matter(spec, summary, test),
        f"# {md(name)}\n\n{md(spec.description) if getattr(spec, 'description', '') else ''}".rstrip(),
        _model(spec, summary),
        _data(spec, summary, figures),
        _results(summary, test, valid, run_dir),
        _usage(run_dir, summary, export),
        _limitations(spec, summary, figures),
        _versions(info, export),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _figures_at_hand(run_dir: Any, spec: Any, registry: Any) -> dict[str, Any] | None:
    from zoo.export.at_hand import data_at_hand, data_figures

    prepared, _ = data_at_hand(spec, run_dir.read_vocab(), run_dir.path, registry)
    return data_figures(prepared) if prepared is not None else None


def _valid_from_history(history: list[dict[str, Any]], best_epoch: Any) -> dict[str, Any]:
    record = next((r for r in history if r.get("epoch") == best_epoch), None)
    return {name: record[key] for name, key in HISTORY_METRICS.items() if record and key in record}


def _front_matter(spec: Any, summary: dict[str, Any], test: dict[str, Any]) -> str:
    dataset = spec.data.dataset.type
    metrics = [{"type": name, "value": test[name], "name": f"test {name.replace('_', ' ')}"}
               for name in METRICS if isinstance(test.get(name), (int, float)) and not isinstance(test.get(name), bool)]
    data = {
        "library_name": "zoo",
        "license": "unknown",  # the card's owner states the licence of the model and its data here
        "pipeline_tag": "text-classification",
        "tags": ["zoo", "text-classification", f"{summary.get('task', 'binary')}-classification",
                 spec.model.encoder.type, spec.tokenizer.type],
        "datasets": [dataset],
        "metrics": [m["type"] for m in metrics],
        "model-index": [{
            "name": str(summary.get("name") or spec.name),
            "results": [{
                "task": {"type": "text-classification", "name": "Text Classification"},
                "dataset": {"type": dataset, "name": dataset, "split": "test"},
                "metrics": metrics,
            }],
        }],
    }
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10**9)
    return f"---\n{text}---"


def _model(spec: Any, summary: dict[str, Any]) -> str:
    from zoo.rundir import dump_spec

    model = spec.model
    encoder = model.encoder
    shape = ", ".join(f"{md(k.replace('_', ' '))} {md(v)}" for k, v in encoder.model_dump().items() if k != "type")
    labels = summary.get("labels") or []
    words = (
        f"Token embeddings of {model.embedding.dim} dimensions, a {md(encoder.type)} encoder ({shape}) and a "
        f"{md(model.head.type)} head: {summary.get('parameters', 0):,} parameters. A "
        f"{md(summary.get('task', 'binary'))} classifier over {len(labels)} labels: "
        + ", ".join(md(label) for label in labels) + f". Tokenizer: {md(spec.tokenizer.type)}."
    )
    return f"## Model\n\n{words}\n\nThe run's spec (`spec.yaml`, loadable by `zoo train`):\n\n" + fenced(
        yaml.safe_dump(dump_spec(spec), sort_keys=False, allow_unicode=True), "yaml")


def _data(spec: Any, summary: dict[str, Any], figures: dict[str, Any] | None) -> str:
    data = spec.data
    source = data.source or "the dataset's default source"
    lines = [f"## Data\n\nDataset {md(data.dataset.type)} from {md(source)}, seed {data.seed}"
             + (f", limited to {data.limit:,} texts" if data.limit else "") + "."]
    texts = (figures or {}).get("texts")
    if texts:
        lines.append("\n| split | texts |\n| --- | --- |\n" + "\n".join(f"| {md(name)} | {count:,} |" for name, count in texts.items()))
    else:
        lines.append("\nTexts per split: not recorded by this run.")
    lines.append("\nThe vocabulary and the model were built from the training split only; the validation split "
                 f"chose the best epoch ({summary.get('best_epoch')} of {summary.get('epochs_run')}, by "
                 f"{md(summary.get('monitor', 'valid_accuracy'))}); the test split was used once, at the end.")
    return "\n".join(lines)


def _results(summary: dict[str, Any], test: dict[str, Any], valid: dict[str, Any], run_dir: Any) -> str:
    rows = [f"| {md(name)} | {_number(test.get(name))} | {_number(valid.get(name))} |"
            for name in METRICS if name in test or name in valid]
    parts = ["## Results\n\n| metric | test | validation |\n| --- | --- | --- |\n" + "\n".join(rows)]
    for split, metrics in (("test", test), ("validation", valid)):
        per_class = metrics.get("per_class") or {}
        if len(per_class) > 2 or (per_class and summary.get("task") != "binary"):
            parts.append(f"\nPer class, {split} split:\n\n| label | precision | recall | F1 | support |\n"
                         "| --- | --- | --- | --- | --- |\n" + "\n".join(
                             f"| {md(label)} | {_number(s.get('precision'))} | {_number(s.get('recall'))} | "
                             f"{_number(s.get('f1'))} | {s.get('support', '')} |" for label, s in per_class.items()))
    if run_dir.curves_file.exists():
        parts.append("\n![Learning curves: loss and accuracy per epoch](curves.png)")
    return "\n".join(parts)


def _usage(run_dir: Any, summary: dict[str, Any], export: dict[str, Any] | None) -> str:
    if export is not None:
        return ("## How to use\n\nThis folder is an export of the run (" + md(export.get("engine", "")) + "). Without "
                "torch: `pip install 'rnn-zoo[onnx]'`, then\n\n" + fenced(
                    "zoo predict THIS_FOLDER \"A moving, beautifully acted film.\"\nzoo predict THIS_FOLDER - < texts.txt --json",
                    "bash") + "\n\n" + fenced(
                    "import zoo.runtime\n\nmodel = zoo.runtime.load(\"THIS_FOLDER\")  # or the .zip of `zoo pack`\n"
                    "model.predict([\"A moving, beautifully acted film.\"])", "python")
                + f"\n\nThe self-check before it was written: {md(export['self_check']['source'])}, probabilities "
                f"within {export['self_check']['max_difference']:.2g} of the run's.")
    return ("## How to use\n\nWith zoo (`pip install 'rnn-zoo[train]'`), from this folder's parent:\n\n" + fenced(
        f"zoo predict {run_dir.path.name} \"A moving, beautifully acted film.\"\n"
        f"zoo predict {run_dir.path.name} --input texts.csv --output labelled.csv", "bash")
        + "\n\nFrom Python:\n\n" + fenced(
            f"import zoo\n\nclassifier = zoo.load(\"{run_dir.path.name}\")\n"
            "classifier.predict([\"A moving, beautifully acted film.\"])", "python")
        + "\n\nAs an HTTP service (`pip install 'rnn-zoo[serve]'`):\n\n" + fenced(
            f"zoo serve {run_dir.path.name} --port 8000\ncurl -s localhost:8000/predict -H 'Content-Type: "
            "application/json' -d '{\"texts\": [\"A moving, beautifully acted film.\"]}'", "bash")
        + "\n\nWithout torch, through ONNX Runtime (`pip install 'rnn-zoo[onnx]'` where it runs):\n\n" + fenced(
            f"zoo export {run_dir.path.name} --out exported        # or: zoo pack {run_dir.path.name} -o model.zip\n"
            "zoo predict exported \"A moving, beautifully acted film.\"", "bash"))


def _limitations(spec: Any, summary: dict[str, Any], figures: dict[str, Any] | None) -> str:
    figures = figures or {}
    longest = figures.get("train_max_tokens")
    oov = figures.get("test_oov_rate")
    lines = [
        "## Limitations\n\n",
        f"- The longest training text had {longest:,} tokens" if longest is not None
        else "- The longest training text: not recorded by this run",
        (f"; texts are cut to their first {spec.data.max_length:,} tokens." if spec.data.max_length
         else "; longer texts are read whole, but the model never saw such lengths in training."),
        f"\n- Vocabulary: {summary.get('vocab_size', 0):,} tokens (with `<pad>` and `<unk>`); any other word is `<unk>`.",
        f"\n- Out-of-vocabulary rate on the test split: {oov:.2%} of its tokens." if oov is not None
        else "\n- Out-of-vocabulary rate on the test split: not recorded by this run.",
        f"\n- It knows only the labels it was trained on ({len(summary.get('labels') or [])}) and the language and "
        "domain of its training data; check it on your own data before relying on it.",
    ]
    return "".join(lines)


def _versions(info: dict[str, Any] | None, export: dict[str, Any] | None) -> str:
    if info is None:
        return "## Versions\n\nNot recorded (the run has no run.json)."
    rows = [f"| zoo | {md(info.get('zoo'))} |", f"| torch | {md(info.get('torch'))} |",
            f"| python | {md(info.get('python'))} |"]
    for component, origin in (info.get("components") or {}).items():
        rows.append(f"| {md(component)} | plugin {md(origin.get('plugin'))} from {md(origin.get('distribution') or '-')} "
                    f"{md(origin.get('version') or '')} |")
    if export is not None:
        rows.append(f"| export | zoo {md(export.get('zoo'))}, torch {md(export.get('torch'))}"
                    + (f", ONNX opset {export['opset']}" if export.get("opset") else "") + " |")
    return "## Versions\n\n| what | version |\n| --- | --- |\n" + "\n".join(rows)
