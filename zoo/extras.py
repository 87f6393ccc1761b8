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


def missing_message(error: ModuleNotFoundError) -> str | None:
    """One line for a module an extra provides: what is missing and the command that installs it;
    ``None`` for any other module (a bug or a broken installation, which keeps its traceback)."""
    module = (error.name or "").partition(".")[0]
    extra = EXTRAS.get(module)
    if extra is None:
        return None
    return f"this needs {module}, which is not installed: {install_hint(extra)}"
