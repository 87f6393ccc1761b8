"""``zoo export RUN --out DIR``: the run's best model as a self-contained folder (see
:mod:`zoo.runtime.files` for its layout), checked before it exists.

Everything is written into a temporary folder next to ``DIR``; the folder is then loaded the way
a user will load it (:func:`zoo.runtime.load`) and compared with the run (:mod:`zoo.export.check`),
and only then renamed into place. A refused or interrupted export leaves nothing behind, and an
existing export at ``DIR`` stays as it was until the new one replaces it whole.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from zoo.errors import RunError
from zoo.io import atomic_directory, atomic_write, atomic_write_json, atomic_write_text
from zoo.limits import MAX_PARAMETERS
from zoo.runtime.files import ENGINES, FILES, FORMAT, MANIFEST

FORMATS = {"onnx": "onnx", "torch": "torch.export"}


def check_target(out: Path, run: Path, force: bool) -> None:
    """Refuse an ``--out`` that is not new: a file, a folder with anything but an export in it (an
    export is replaced only with ``force``), or a place inside the run."""
    if out.resolve() == run.resolve() or run.resolve() in out.resolve().parents:
        raise RunError(f"--out {out} is inside the run {run}; choose a folder outside it")
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise RunError(f"--out {out} is a file or a link; choose a new folder")
    if out.is_dir() and any(out.iterdir()):
        foreign = sorted(entry.name for entry in out.iterdir() if entry.name not in FILES or not entry.is_file()
                         or entry.is_symlink())
        if not (out / MANIFEST).exists() or foreign:
            raise RunError(f"--out {out} holds files that are not a zoo export ({', '.join(foreign[:5])}); zoo will not "
                           "replace it. Choose a new or empty folder")
        if not force:
            raise RunError(f"--out {out} already holds an export; pass --force to replace it")


def export(run: str | Path, out: str | Path, fmt: str = "onnx", *, force: bool = False,
           max_parameters: int = MAX_PARAMETERS, progress: Any = None) -> dict[str, Any]:
    """Export the best weights of the finished run ``run`` into the folder ``out`` as ``fmt``
    (``onnx`` or ``torch``); returns ``export.json``'s content (``out`` under ``"out"``)."""
    import torch

    from zoo.classifier import load
    from zoo.export.card import card_text
    from zoo.export.check import check_inputs, compare
    from zoo.export.formats import to_onnx, to_program
    from zoo.plugins import get_registry
    from zoo.rundir import RunDir, dump_spec, versions
    from zoo.runtime import load as load_export
    from zoo.score_files import run_columns

    say = progress or (lambda message: None)
    run_dir, out = RunDir(Path(run)), Path(out)
    if fmt not in FORMATS:
        raise RunError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not run_dir.finished:
        raise RunError(f"{run_dir.path} is not a finished run (no summary.json); finish it with "
                       f"zoo train --resume {run_dir.path}")
    check_target(out, run_dir.path, force)
    classifier = load(run_dir.path, max_parameters=max_parameters)
    registry = get_registry()
    engine = FORMATS[fmt]
    say(f"tracing the model ({engine})")
    model = classifier.model.cpu().eval()
    data, opset = to_onnx(model) if engine == "onnx" else (to_program(model), None)
    say("preparing the self-check")
    inputs = check_inputs(classifier, run_dir.path, registry)
    text, label, separator = run_columns(classifier.spec)
    recorded = versions(classifier.spec, registry)
    manifest = {
        "format": FORMAT, "version": 1, "engine": engine, "model": ENGINES[engine],
        "max_length": classifier.spec.data.max_length,
        "text_columns": text, "label_column": label, "label_separator": separator,
        "run": run_dir.path.name, "zoo": recorded["zoo"], "torch": torch.__version__,
        "opset": opset, "self_check": {"texts": 0, "source": "not yet run", "max_difference": 0.0},
        "components": recorded["components"],
    }
    with atomic_directory(out) as folder:
        atomic_write(folder / ENGINES[engine], lambda handle: handle.write(data))
        _write_weights(folder / "model.safetensors", model)
        classifier.vocab.save(folder / "vocab.json")
        atomic_write_json(folder / "labels.json", classifier.task.to_dict())
        atomic_write_json(folder / "tokenizer.json", classifier.spec.tokenizer.model_dump(mode="json"))
        atomic_write_text(folder / "spec.yaml", yaml.safe_dump(dump_spec(classifier.spec), sort_keys=False))
        atomic_write_json(folder / MANIFEST, manifest)
        say(f"self-check: {inputs.source}")
        manifest["self_check"] = compare(classifier, load_export(folder, trust_program=True), inputs)  # ours
        atomic_write_json(folder / MANIFEST, manifest)
        atomic_write_text(folder / "README.md", card_text(run_dir, classifier.spec, registry, export=manifest))
    return {**json.loads((out / MANIFEST).read_text()), "out": str(out)}


def _write_weights(path: Path, model: Any) -> None:
    """The state dict as plain safetensors (``{"format": "pt"}``, as Hugging Face's tools write it)."""
    from safetensors.torch import save

    tensors = {name: tensor.detach().to("cpu", copy=True).contiguous() for name, tensor in model.state_dict().items()}
    data = save(tensors, {"format": "pt"})
    atomic_write(path, lambda handle: handle.write(data))
