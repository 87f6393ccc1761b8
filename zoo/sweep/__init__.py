"""``zoo sweep``: hyperparameter search over a spec with Optuna.

- :mod:`zoo.sweep.space`: the space file (what to vary, the metric, sampler and pruner), checked
  against the spec before any trial starts;
- :mod:`zoo.sweep.study`: the sweep folder, Optuna's storage, sampler and pruner;
- :mod:`zoo.sweep.workers`: which trials are alive, finished or to be retried;
- :mod:`zoo.sweep.trial`: one trial, an ordinary run directory under ``DIR/trials/``, pruned
  through the trainer's lifecycle hooks;
- :mod:`zoo.sweep.report`: the table of trials, ``best.yaml`` and the plots.

Optuna is an optional dependency (the ``sweep`` extra): nothing here imports it at module level,
so ``zoo --help`` stays fast and works without it.
"""

from __future__ import annotations

from typing import Any

from zoo import install_hint
from zoo.errors import ZooError

INSTALL_HINT = install_hint("sweep")


def require_optuna() -> Any:
    """The ``optuna`` module, or an error saying how to install it."""
    try:
        import optuna
    except ImportError as exc:
        raise ZooError(f"zoo sweep needs Optuna, which cannot be imported ({exc}); install it with: "
                       f"{INSTALL_HINT}") from None
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # zoo reports trials (and their failures) itself
    return optuna
