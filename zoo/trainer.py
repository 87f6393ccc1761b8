"""Training a spec into a run directory, resumably and reproducibly.

The same spec and seed on the same machine give the same metrics epoch by epoch: the model is
initialised from ``train.seed``, each epoch's batch order is drawn from ``(seed, epoch)``, and
the torch random state (dropout) is saved with every checkpoint. A run killed at any moment
resumes from its last completed epoch and finishes with the same metrics as an uninterrupted one.
Under torchrun the same code trains with DistributedDataParallel (see :mod:`zoo.distributed`).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel

from zoo.distributed import Distributed, from_environment, shutdown
from zoo.errors import RunError, ZooError
from zoo.loggers import build_loggers
from zoo.limits import MAX_PARAMETERS
from zoo.memory_estimate import check_training_memory
from zoo.model import TextClassifier, build_model, check_shapes, count_parameters, planned_state
from zoo.parallel import batch_shards, resolve_shards
from zoo.plugins import Plugins, get_plugins, notify
from zoo.progress import TrainProgress
from zoo.resume import open_resumed
from zoo import runfiles
from zoo.rundir import RunDir, safe_name
from zoo.task import Binary, Task, resolve_task

ALONE = Distributed()


class TrainingDiverged(ZooError):
    """The loss became NaN or infinite."""


@dataclass
class Run:
    """What lifecycle hooks see of a run."""

    dir: Path
    spec: BaseModel
    start_epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    device: str = "cpu"
    stop_reason: str | None = None

    def stop(self, reason: str) -> None:
        """End training after the current epoch, as early stopping would: the run still finishes
        (best checkpoint evaluated, ``summary.json`` written, ``stop_reason`` recorded in it).
        A lifecycle hook's way to end a run, e.g. a hyperparameter search pruning a trial."""
        self.stop_reason = reason


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` picks CUDA when it is present; asking for CUDA without one is an error."""
    if name not in ("auto", "cpu", "cuda"):
        raise ZooError(f"unknown device {name!r}; use 'auto', 'cpu' or 'cuda'")
    if name == "cuda" and not torch.cuda.is_available():
        raise ZooError("device 'cuda' was asked for but no CUDA device is available; use 'auto' or 'cpu'")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(f"cuda:{local_rank}") if name == "cuda" else torch.device(name)


def make_optimizer(spec: BaseModel, parameters) -> torch.optim.Optimizer:
    """The optimizer named by ``train.optimizer``.

    Adam and AdamW use torch's fused kernel: the same update rule in one pass over the
    parameters, about ten times faster on the CPU than the per-tensor loop for the default
    recipe's 1.4M parameters (most of them the embedding, which gets a dense gradient).
    """
    if spec.name == "sgd":
        return torch.optim.SGD(
            parameters, lr=spec.lr, momentum=spec.momentum, weight_decay=spec.weight_decay, foreach=True
        )
    cls = torch.optim.AdamW if spec.name == "adamw" else torch.optim.Adam
    return cls(parameters, lr=spec.lr, betas=tuple(spec.betas), weight_decay=spec.weight_decay, fused=True)


def make_scheduler(train: BaseModel, optimizer: torch.optim.Optimizer):
    """The per-epoch learning-rate schedule of ``train.scheduler``, or ``None``."""
    schedule = train.scheduler
    if schedule is None:
        return None
    if schedule.name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=schedule.step_size, gamma=schedule.gamma)
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=train.epochs, eta_min=schedule.min_lr)


def supported_precision(precision: str, device: torch.device) -> str:
    """``precision`` where ``device`` can run it; fp16 (CUDA only) falls back to fp32 elsewhere.

    Used to evaluate and predict with a run trained in fp16 on a machine without CUDA.
    """
    return "fp32" if precision == "fp16" and device.type != "cuda" else precision


def autocast(device: torch.device, precision: str):
    """The autocast context for ``train.precision`` (a no-op for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "fp16" and device.type != "cuda":
        raise ZooError("train.precision fp16 needs CUDA; use bf16 or fp32 on the CPU")
    dtype = torch.float16 if precision == "fp16" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype)


def _to_device(batch, device: torch.device):
    """Ids, lengths and labels on ``device`` (pinned, non-blocking copies on CUDA)."""
    if device.type != "cuda":
        return batch.ids, batch.lengths, batch.labels
    return (batch.ids.pin_memory().to(device, non_blocking=True), batch.lengths.to(device),
            batch.labels.pin_memory().to(device, non_blocking=True))


def predict_logits(
    model: torch.nn.Module, split, batch_size: int, device: torch.device, max_length: int | None = None,
    dist: Distributed = ALONE, precision: str = "fp32", shards: int | str = "auto",
) -> np.ndarray:
    """Logits for every review of ``split``, in the split's order (batched by length for speed):
    ``(n,)`` for a one-output (binary) model, else ``(n, outputs)``.

    ``shards`` is ``train.cpu_shards`` (see :mod:`zoo.parallel`).

    Distributed, each rank scores every ``world_size``-th batch and the logits are summed over
    the ranks, so every rank returns all of them.
    """
    from zoo.data.batching import batch_indices, collate

    model.eval()
    logits: torch.Tensor | None = None
    lengths = split.lengths if max_length is None else np.minimum(split.lengths, max_length)
    order = batch_indices(lengths, batch_size, shuffle=False, bucketing=True)
    with torch.inference_mode(), autocast(device, precision), batch_shards(resolve_shards(shards, device)):
        for indices in order[dist.rank :: dist.world_size]:
            batch = collate(split, indices, max_length)
            ids, lengths, _ = _to_device(batch, device)
            scores = model(ids, lengths).float().cpu()
            if logits is None:
                logits = torch.zeros((len(split), *scores.shape[1:]), dtype=torch.float32)
            logits[torch.from_numpy(batch.index)] = scores
    if logits is None:  # no batch on this rank (or an empty split): the shape from the model
        logits = torch.zeros((len(split), *_output_shape(model)), dtype=torch.float32)
    if dist.enabled:
        logits = dist.sum(logits.to(device)).cpu()
    return logits.numpy()


def _output_shape(model: torch.nn.Module) -> tuple[int, ...]:
    """The per-text shape of the model's logits: ``()`` for one output, else ``(outputs,)``."""
    outputs = getattr(model, "num_outputs", 1)
    return () if outputs == 1 else (outputs,)


def evaluate(
    model: torch.nn.Module, split, spec: BaseModel, device: torch.device, task: Task, dist: Distributed = ALONE
) -> dict[str, Any]:
    """Loss and the ``task``'s metrics of ``model`` on ``split``, batched and truncated as ``spec`` says."""
    logits = predict_logits(model, split, spec.train.eval_batch_size, device, spec.data.max_length, dist,
                            supported_precision(spec.train.precision, device), spec.train.cpu_shards)
    broken = int((~np.isfinite(logits).all(axis=tuple(range(1, logits.ndim)))).sum())
    if broken:
        raise TrainingDiverged(f"the model's output is NaN or infinite for {broken} of the {len(logits)} texts "
                               "evaluated; its weights overflow, so it gives no metrics")
    return task.metrics(logits, split.labels)


def train_epoch(
    model: torch.nn.Module, split, spec: BaseModel, device: torch.device, optimizer: torch.optim.Optimizer,
    epoch: int, progress: TrainProgress | None = None, dist: Distributed = ALONE, scaler=None,
    task: Task | None = None,
) -> dict[str, float]:
    """One epoch over ``split``; returns mean loss, accuracy and the number of real tokens.

    Each rank's loss is its shard's summed loss over the global batch size times the world
    size, so that DDP's gradient average is the global batch's mean gradient. ``task`` decides
    the loss (default: binary, the reference model's).
    """
    from zoo.data.batching import batch_indices, collate

    progress = progress or TrainProgress(spec.train.epochs, enabled=False)
    task = task or Binary(("neg", "pos"))
    train = spec.train
    model.train()
    lengths = split.lengths if spec.data.max_length is None else np.minimum(split.lengths, spec.data.max_length)
    batches = [
        b for b in batch_indices(lengths, train.batch_size, shuffle=True, bucketing=train.bucketing,
                                 pool=train.bucket_pool, seed=train.seed, epoch=epoch, max_tokens=train.max_tokens)
        if len(b) >= dist.world_size  # every rank needs a non-empty shard
    ]
    progress.start_epoch(epoch + 1, len(batches))
    totals = torch.zeros(3, dtype=torch.float64)  # loss sum, correct, tokens (this rank)
    seen = 0
    with batch_shards(resolve_shards(train.cpu_shards, device)):
        for step, indices in enumerate(batches, 1):
            batch = collate(split, dist.shard(indices), spec.data.max_length)
            ids, lengths, labels = _to_device(batch, device)
            targets = task.targets(labels)
            optimizer.zero_grad(set_to_none=True)
            with autocast(device, train.precision):
                logits = model(ids, lengths).float()
            loss_sum = task.loss(logits, targets)
            loss = loss_sum * (dist.world_size / len(indices))
            if not torch.isfinite(loss):
                raise TrainingDiverged(
                    f"the training loss became {loss.item()} at epoch {epoch + 1}, step {step}; "
                    "lower train.optimizer.lr or set train.clip_grad_norm"
                )
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
            else:
                loss.backward()
            if train.clip_grad_norm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), train.clip_grad_norm)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            totals[0] += loss_sum.detach().double().cpu()
            totals[1] += task.correct(logits.detach(), targets).cpu()
            totals[2] += int(batch.lengths.sum())
            seen += len(indices)
            if step % 20 == 0 or step == len(batches):
                progress.step(step, seen, totals[0].item() * dist.world_size / seen,
                              totals[1].item() * dist.world_size / seen)
    totals = dist.sum(totals.to(device)).cpu()
    return {"train_loss": totals[0].item() / seen, "train_accuracy": totals[1].item() / seen,
            "train_tokens": int(totals[2].item())}


def _new_run_dir(spec: BaseModel, out: str | Path | None, force: bool, dist: Distributed) -> RunDir:
    """The run directory to create, checked by every rank before any work (created later)."""
    if out is None:
        out = Path("runs") / f"{safe_name(spec.name)}-{datetime.now():%Y%m%d-%H%M%S}"
    run_dir = RunDir(Path(dist.broadcast(str(out))))
    run_dir.check_new(force)
    return run_dir


def train(
    spec: BaseModel | dict[str, Any] | str | Path | None = None,
    *,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    overrides: list[str] | None = None,
    force: bool = False,
    plugins: Plugins | None = None,
    progress: TrainProgress | None = None,
    source: str | None = None,
    max_parameters: int = MAX_PARAMETERS,
) -> dict[str, Any]:
    """Train ``spec`` (a spec object, or anything :func:`zoo.load_spec` takes) into a new run
    directory (``out``), or continue the run at ``resume`` (``overrides`` may extend it, ``source``
    names its data: see :mod:`zoo.resume`).

    A model of more than ``max_parameters`` is refused before it is built. Returns the summary
    that is also written to ``summary.json``.
    """
    plugins = plugins or get_plugins()
    extended, data_note = False, None
    if resume is not None:
        run_dir, spec, extended, data_note = open_resumed(resume, plugins.registry, overrides, source)
    elif spec is None:
        raise ValueError("train() needs a spec or a run directory to resume")
    elif not isinstance(spec, BaseModel):
        from zoo.spec import load_spec

        spec = load_spec(spec, overrides, plugins.registry)
    device = resolve_device(spec.train.device)
    dist = from_environment(device)
    if dist.enabled and device.type == "cuda":
        device = resolve_device("cuda", dist.local_rank)
        torch.cuda.set_device(device)
    held: RunDir | None = run_dir if resume is not None else None
    try:
        if resume is None:
            run_dir = held = _new_run_dir(spec, out, force, dist)
        elif dist.is_main:
            run_dir.lock()  # a second resume of the same run is refused (a fresh run locks in create)
        return _Trainer(spec, run_dir, plugins, device, dist, progress, fresh=resume is None,
                        extended=extended, max_parameters=max_parameters, data_note=data_note, force=force).fit()
    finally:
        if held is not None:
            held.unlock()  # nothing if this process never locked it
        shutdown(dist)


class _Trainer:
    """One run's training loop; rank 0 alone writes files, shows progress and calls hooks."""

    def __init__(self, spec, run_dir: RunDir, plugins: Plugins, device, dist: Distributed, progress,
                 fresh: bool, extended: bool = False, max_parameters: int = MAX_PARAMETERS,
                 data_note: str | None = None, force: bool = False) -> None:
        """Prepare the data and build the model; a ``fresh`` run's folder is made only then,
        so a start that fails (bad data source, bad plugin) leaves nothing behind to block a retry.
        An ``extended`` resumed run records its new spec and, if it had finished, goes on; a
        resumed run must find the vocabulary it was trained with in the data (``data_note``
        says which data those are). ``force`` is ``--force``, checked again once the folder is locked."""
        from zoo.data.prepare import prepare_data

        self.spec, self.run_dir, self.plugins, self.device, self.dist = spec, run_dir, plugins, device, dist
        self.started = time.perf_counter()
        train = spec.train
        if train.threads:
            torch.set_num_threads(train.threads)
        self.progress = progress or TrainProgress(train.epochs, enabled=dist.is_main)
        if data_note:
            self.progress.message(f"data: {data_note}")
        self.data = prepare_data(spec, plugins.registry)
        if not fresh and run_dir.vocab_file.exists():
            runfiles.check_same_vocabulary(run_dir.read_vocab(), self.data.vocab, run_dir.path)
        self.prepare_seconds = time.perf_counter() - self.started
        self.task = resolve_task(spec.task, self.data.labels, self.data.multilabel, self.data.splits["train"].labels)
        # the spec written to the run names the task the data decided, so a resumed run,
        # zoo evaluate and zoo predict read it back without the data
        self.spec = spec = spec.model_copy(update={"task": spec.task.model_copy(update={"type": self.task.name})})

        self.max_parameters = max_parameters
        planned_state(spec.model, len(self.data.vocab), self.task.num_outputs, plugins.registry, max_parameters,
                      f"the spec of {run_dir.path}")  # refused before anything is allocated
        torch.manual_seed(train.seed)
        self.model = build_model(spec.model, vocab_size=len(self.data.vocab), num_outputs=self.task.num_outputs,
                                 registry=plugins.registry).to(device)
        check_shapes(self.model, spec.model, plugins.registry)
        self.vectors = self._pretrained_vectors(fresh)
        # before the run folder is made, and before DDP wraps the model (the check's backward
        # pass on CUDA must not reach DDP's hooks)
        check_training_memory(self.model, spec, self.data.splits["train"].lengths, device, dist.world_size,
                              lambda: autocast(device, train.precision))
        self.resumed = not fresh
        self.loggers = build_loggers(spec.loggers, plugins.registry) if dist.is_main else []
        if dist.is_main and fresh:
            run_dir.create(force)
            run_dir.write_spec(spec, plugins.registry)
        if dist.is_main and extended:
            run_dir.save_spec(spec)
            run_dir.summary_file.unlink(missing_ok=True)  # it trains on: finished again at its end
        if dist.is_main and not run_dir.vocab_file.exists():
            self.data.vocab.save(run_dir.writable(run_dir.vocab_file))
        dist.barrier()
        self.optimizer = make_optimizer(train.optimizer, self.model.parameters())
        self.scheduler = make_scheduler(train, self.optimizer)
        self.scaler = torch.amp.GradScaler("cuda") if train.precision == "fp16" else None
        self.network = self.model
        if dist.enabled:
            ids = [device.index] if device.type == "cuda" else None
            self.network = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.run = Run(dir=run_dir.path, spec=spec, device=str(device))
        self.best: dict[str, Any] = {"epoch": None, "value": None}
        self.bad_epochs = 0

    def _pretrained_vectors(self, fresh: bool) -> dict[str, Any] | None:
        """Load ``model.embedding.vectors`` into a fresh run's embedding (a resumed run reads its
        weights from the checkpoint) and freeze the embedding if asked."""
        embedding = self.spec.model.embedding
        self.model.embedding.weight.requires_grad_(not embedding.freeze)
        if embedding.vectors is None or not fresh:
            return None
        from zoo.vectors import load_pretrained

        coverage = load_pretrained(self.model.embedding, self.data.vocab, embedding.vectors)
        self.progress.message(coverage.describe())
        return coverage.to_dict()

    def _notify(self, hook: str, **kwargs: Any) -> None:
        """Every plugin's lifecycle hook, then the same event for the loggers the spec names."""
        if self.dist.is_main:
            notify(self.plugins, hook, run=self.run, **kwargs)
            for logger in self.loggers:
                logger.notify(hook, run=self.run, **kwargs)

    def _save(self, path: Path, state: dict[str, Any]) -> None:
        if self.dist.is_main:
            self.run_dir.save_checkpoint(path, state)

    def _random_state(self) -> list[dict[str, Any]]:
        """Every rank's generators (ranks draw different amounts of dropout), gathered on all ranks."""
        mine = {"cpu": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None}
        return self.dist.gather(mine)

    def _set_random_state(self, states: list[runfiles.RandomState], path: Path) -> None:
        mine = states[self.dist.rank] if self.dist.rank < len(states) else states[0]
        torch.set_rng_state(mine.cpu)
        if mine.cuda is not None and self.device.type == "cuda":
            try:
                torch.cuda.set_rng_state(mine.cuda, self.device)
            except RuntimeError as exc:
                raise RunError(f"{path}: rng.{self.dist.rank}.cuda is not a CUDA generator's state ({exc})") from None

    def _checkpoint(self, path: Path) -> runfiles.Weights:
        """The checkpoint at ``path``, checked, its weights loaded into the model."""
        state = self.run_dir.load_checkpoint(path, runfiles.max_checkpoint_bytes(self.max_parameters))
        expected = {name: (tuple(value.shape), value.dtype) for name, value in self.model.state_dict().items()}
        runfiles.check_weights(state.model, expected, self.run_dir.checkpoint_file(path))
        self.model.load_state_dict(state.model)
        return state

    def _restore(self) -> None:
        path = self.run_dir.last
        state = self._checkpoint(path)
        recorded = state.to_task()
        if recorded.labels != self.task.labels or recorded.name != self.task.name:
            raise RunError(
                f"{self.run_dir.path} was trained as a {recorded.name} task over the labels "
                f"{', '.join(recorded.labels)}; the data now give {self.task.name} over "
                f"{', '.join(self.task.labels)}. Resume with the data it was trained on"
            )
        runfiles.check_optimizer(state.optimizer, self.optimizer.state_dict(), list(self.model.parameters()), path)
        self.optimizer.load_state_dict({"state": dict(state.optimizer.state),
                                        "param_groups": list(state.optimizer.param_groups)})
        for name, part in (("scheduler", self.scheduler), ("scaler", self.scaler)):
            saved = getattr(state, name)
            if part is not None and saved:
                runfiles.check_like(saved, part.state_dict(), path, name)
                part.load_state_dict(saved)
        self._set_random_state(state.rng, path)
        self.run.start_epoch, self.run.history = state.epoch, list(state.history)
        self.best, self.bad_epochs = state.best.model_dump(), state.bad_epochs
        self.vectors = state.vectors or self.vectors
        self.progress.message(f"resuming {self.run_dir.path} after epoch {self.run.start_epoch}")

    def _evaluate(self, split_name: str) -> dict[str, Any]:
        # the plain model: DDP's wrapper would synchronise on every forward call
        return evaluate(self.model, self.data.splits[split_name], self.spec, self.device, self.task, self.dist)

    def _improved(self, valid: dict[str, Any]) -> bool:
        train = self.spec.train
        larger_is_better = train.monitor != "valid_loss"
        value = valid[train.monitor.removeprefix("valid_")]
        delta = train.early_stopping.min_delta if train.early_stopping else 0.0
        best = self.best["value"]
        improved = best is None or (value > best + delta if larger_is_better else value < best - delta)
        if improved:
            self.best, self.bad_epochs = {"epoch": len(self.run.history) + 1, "value": value}, 0
        else:
            self.bad_epochs += 1
        return improved

    def _epoch(self, epoch: int) -> None:
        tick = time.perf_counter()
        lr = self.optimizer.param_groups[0]["lr"]
        stats = train_epoch(self.network, self.data.splits["train"], self.spec, self.device, self.optimizer,
                            epoch, self.progress, self.dist, self.scaler, self.task)
        train_seconds = time.perf_counter() - tick
        valid = self._evaluate("valid")
        if self.scheduler is not None:
            self.scheduler.step()
        improved = self._improved(valid)
        record = {
            "epoch": epoch + 1,
            "train_loss": stats["train_loss"],
            "train_accuracy": stats["train_accuracy"],
            "valid_loss": valid["loss"],
            "valid_accuracy": valid["accuracy"],
            "valid_macro_f1": valid["macro_f1"],
            "lr": lr,
            "seconds": time.perf_counter() - tick,
            "train_seconds": train_seconds,
            "train_tokens_per_second": stats["train_tokens"] / train_seconds,
            "best": improved,
        }
        self.run.history.append(record)
        task = {"labels": list(self.task.labels), "task": self.task.to_dict()}
        if improved:
            self._save(self.run_dir.best, {"model": self.model.state_dict(), "epoch": epoch + 1, **task})
        random_state = self._random_state()  # a collective call: every rank, before rank 0 saves
        self._save(self.run_dir.last, {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "rng": random_state,
            "epoch": epoch + 1,
            "history": self.run.history,
            "best": self.best,
            "bad_epochs": self.bad_epochs,
            **({"vectors": self.vectors} if self.vectors else {}),
            **task,
        })
        self.progress.end_epoch(record)
        self._notify("on_epoch_end", epoch=epoch + 1, metrics=record)
        self._notify("on_checkpoint_saved", path=self.run_dir.last, epoch=epoch + 1, best=False)
        if improved:
            self._notify("on_checkpoint_saved", path=self.run_dir.best, epoch=epoch + 1, best=True)

    def fit(self) -> dict[str, Any]:
        train = self.spec.train
        if self.resumed and self.run_dir.checkpoint_file(self.run_dir.last).exists():
            self._restore()
        self._notify("on_run_start")
        stopped_early = False
        try:
            with self.progress:
                for epoch in range(self.run.start_epoch, train.epochs):
                    if train.early_stopping and self.bad_epochs >= train.early_stopping.patience:
                        stopped_early = True
                        break
                    self._epoch(epoch)
                    if self.run.stop_reason is not None:
                        self.progress.message(f"stopping after epoch {epoch + 1}: {self.run.stop_reason}")
                        stopped_early = True
                        break
        except KeyboardInterrupt:
            self.progress.message(f"interrupted; continue with: zoo train --resume {self.run_dir.path}")
            raise
        except TrainingDiverged as exc:
            kept = (f"the last good checkpoint (epoch {self.run.history[-1]['epoch']}) is {self.run_dir.last}"
                    if self.run.history else "no epoch finished")
            raise TrainingDiverged(f"{exc}; {kept}") from None
        self.dist.barrier()  # rank 0 has written the best checkpoint
        return self._finish(stopped_early)

    def _finish(self, stopped_early: bool) -> dict[str, Any]:
        from zoo.io import atomic_write_json
        from zoo.plot import plot_confusion, plot_curves

        from zoo.export.at_hand import data_figures
        from zoo.export.card import write_card

        self._checkpoint(self.run_dir.best)
        test = self._evaluate("test")
        valid = self._evaluate("valid")  # every metric of the best epoch, for the model card
        history = self.run.history
        summary = {
            "name": self.spec.name,
            "run_dir": str(self.run_dir.path),
            "task": self.task.name,
            "labels": list(self.task.labels),
            "test": test,
            "valid": valid,
            "data": data_figures(self.data),
            "best_epoch": self.best["epoch"],
            "monitor": self.spec.train.monitor,
            "best_valid": self.best["value"],
            "epochs_run": len(history),
            "stopped_early": stopped_early,
            "stop_reason": self.run.stop_reason,
            "train_seconds_per_epoch": sum(h["train_seconds"] for h in history) / len(history),
            "seconds_per_epoch": sum(h["seconds"] for h in history) / len(history),
            "train_tokens_per_second": sum(h["train_tokens_per_second"] for h in history) / len(history),
            "prepare_seconds": self.prepare_seconds,
            "total_seconds": time.perf_counter() - self.started,
            "parameters": count_parameters(self.model),
            "vocab_size": len(self.data.vocab),
            "vectors": self.vectors,
            "device": str(self.device),
            "processes": self.dist.world_size,
            "threads": torch.get_num_threads(),
        }
        if self.device.type == "cuda":
            summary["max_memory_mb"] = torch.cuda.max_memory_allocated(self.device) / 2**20
        if self.dist.is_main:
            title = f"{self.spec.name} ({self.run_dir.path.name})"
            plot_curves(history, self.run_dir.writable(self.run_dir.curves_file), title)
            if "confusion" in test:
                plot_confusion(test["confusion"], list(self.task.labels), self.run_dir.writable(self.run_dir.confusion_file),
                               f"{title}: test split")
            atomic_write_json(self.run_dir.writable(self.run_dir.summary_file), summary)
            write_card(self.run_dir, self.spec, self.plugins.registry)
        self._notify("on_run_end", summary=summary)
        # the ranks leave the group together, so that none closes its connections while rank 0
        # still holds the group open writing files (a rank once died of SIGABRT in CI)
        self.dist.barrier()
        return summary
