"""Which extra of zoo's distribution brings which package, and the one line that says so.

The base distribution is light (the command line, specs, the registry, the torch-free runtime);
training, exporting, ONNX Runtime, tables and plots come with extras. A command that reaches for
a package that is not installed ends with :func:`missing_message`, through one ``except`` in
:func:`zoo.cli.main`, rather than a check at every place that imports one.
"""

from __future__ import annotations

from zoo import install_hint

#: Top-level module -> the extra that installs it.
EXTRAS = {
    "torch": "train",
    "pandas": "train",
    "matplotlib": "train",
    "onnxruntime": "onnx",
    "onnx": "export",
    "onnxscript": "export",
    "pyarrow": "parquet",
    "tensorboard": "tensorboard",
    "fastapi": "serve",
    "uvicorn": "serve",
    "prometheus_client": "serve",
    "optuna": "sweep",
}


#: Commands whose own extra brings the module too: naming it makes one install enough (``train``
#: would bring torch to ``zoo export`` but not onnx, and the next attempt would fail on that).
COMMAND_EXTRAS = {"export": ("export", {"torch", "onnx", "onnxscript", "onnxruntime"}),
                  "pack": ("export", {"torch", "onnx", "onnxscript", "onnxruntime"})}


def missing_message(error: ModuleNotFoundError, command: str | None = None) -> str | None:
    """One line for a module an extra provides: what is missing and the command that installs it;
    ``None`` for any other module (a bug or a broken installation, which keeps its traceback).
    ``command`` (the CLI verb) names its own extra where that extra brings the module."""
    module = (error.name or "").partition(".")[0]
    own_extra, brings = COMMAND_EXTRAS.get(command or "", (None, set()))
    extra = own_extra if module in brings else EXTRAS.get(module)
    if extra is None:
        return None
    return f"this needs {module}, which is not installed: {install_hint(extra)}"
