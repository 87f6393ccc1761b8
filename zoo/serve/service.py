"""One loaded model behind the server: the classifier, its batcher, its metrics and ``/info``.

The model is loaded once per process (per worker), by the app's lifespan, and used by one
thread only, the batcher's, which tokenizes and scores each batch.

A batch's texts are sorted by length and scored in groups of :data:`SCORING_ROWS`: the encoders
step through every padded position, so one group of 64 reviews of random lengths runs as long as
its longest review (often four times the mean), while groups of similar lengths pad little.
Smaller groups would pad less but pay the fixed cost of each time step more often.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from zoo.serve.batcher import Batcher
from zoo.serve.limits import Limits
from zoo.serve.metrics import ServeMetrics

#: Texts scored together, after sorting a batch by length (see the module docstring). On the
#: default recipe and 2 cores, 64 test reviews scored in groups of 16 ran about 4x as fast as in
#: one group of 64, and a little faster than in groups of 8.
SCORING_ROWS = 16


class Service:
    """Everything the endpoints need; :meth:`start` loads, :meth:`stop` drains and stops."""

    def __init__(self, run: Path, limits: Limits, classifier: Any = None, threads: int | None = None) -> None:
        self.run = run
        self.limits = limits
        self.classifier = classifier
        self.threads = threads
        self.metrics = ServeMetrics(limits.max_batch)
        self.batcher: Batcher | None = None
        self.info: dict[str, Any] = {}
        #: Set when the server starts shutting down (see :class:`zoo.serve.api.AnswerMiddleware`).
        self.draining = False

    @property
    def loaded(self) -> bool:
        return self.batcher is not None and self.batcher.alive

    def start(self) -> None:
        """Load the run (unless given a loaded classifier) and start the inference thread."""
        if self.threads is not None:
            import torch

            torch.set_num_threads(self.threads)
        if self.classifier is None:
            from zoo.classifier import load

            self.classifier = load(self.run)
        self.info = describe(self.run, self.classifier, self.limits)
        scorer = replace(self.classifier, batch_size=SCORING_ROWS)
        self.batcher = Batcher(scorer.logits, self.limits, observe=self.metrics.observe_batch,
                               on_queue_change=self.metrics.queue.set)

    def stop(self) -> None:
        """Answer what is queued, then stop the inference thread."""
        if self.batcher is not None:
            self.batcher.close()
        self.metrics.worker_stopped()

    def predictions(self, logits: np.ndarray, top_k: int | None) -> list[dict[str, Any]]:
        """The answers for one request's logits (the task decides their shape); a text whose
        output is NaN or infinite gets ``{"error": ...}``, never a label (see :meth:`Task.answers`)."""
        return self.classifier.task.answers(logits, top_k)


def describe(run: Path, classifier: Any, limits: Limits) -> dict[str, Any]:
    """``GET /info``: the model, its recorded test metrics, versions then and now, the limits."""
    from dataclasses import asdict

    from zoo import runfiles
    from zoo.plugins import get_registry
    from zoo.rundir import RunDir, dump_spec, versions

    run_dir = RunDir(run)
    summary = _recorded(run_dir.summary_file, runfiles.Summary, run)
    return {
        "name": classifier.spec.name,
        "run": str(run),
        "task": classifier.task.to_dict(),
        "labels": classifier.labels,
        "test_metrics": summary.get("test") if summary else None,
        "parameters": sum(p.numel() for p in classifier.model.parameters()),
        "spec": dump_spec(classifier.spec),
        "versions": {"serving": versions(classifier.spec, get_registry()),
                     "trained_with": _recorded(run_dir.run_file, runfiles.RunInfo, run)},
        "limits": asdict(limits),
    }


def _recorded(path: Path, model: Any, run: Path) -> dict[str, Any] | None:
    """A run's JSON record, read as zoo reads run files (bounded, inside the run); ``None`` when
    it is missing or unreadable: ``/info`` describes, and the model serves without it."""
    from zoo import runfiles
    from zoo.errors import RunError

    if not path.exists():
        return None
    try:
        return runfiles.read_json(path, model, run).model_dump(mode="json")
    except RunError:
        return None
