"""The sweep folder and the Optuna study behind it.

A sweep folder holds::

    sweep.json      the base spec (resolved), the space, the storage and study names, the trial count
    study.journal   Optuna's journal of every trial (the default storage; absent with a database URL)
    trials/NNNN/    one ordinary run directory per trial (``zoo evaluate``/``predict`` work on it)
    best.yaml       the best trial's full spec, loadable by ``zoo train``
    plots/          optimisation history, parameter importances, parallel coordinates (PNG)

``sweep.json`` is written once, exclusively: a second worker started with the same command (or
with ``--resume DIR``) joins the same study; one with a different spec or space is refused.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.io import atomic_write_json
from zoo.sweep.space import Space, parse_space

FORMAT = "zoo-sweep"
VERSION = 1
SWEEP_FILE = "sweep.json"
JOURNAL_FILE = "study.journal"


@dataclass
class Sweep:
    """What a sweep folder records: enough to resume it, join it or report it from anywhere."""

    dir: Path
    spec: dict[str, Any]
    space_data: dict[str, Any]
    study: str
    trials: int
    storage: str | None = None  # None: the journal file in the folder

    @property
    def space(self) -> Space:
        return parse_space(self.space_data, self.dir / SWEEP_FILE)

    @property
    def file(self) -> Path:
        return self.dir / SWEEP_FILE

    def trial_dir(self, number: int) -> Path:
        return self.dir / "trials" / f"{number:04d}"

    def _record(self) -> dict[str, Any]:
        record = {key: value for key, value in asdict(self).items() if key != "dir"}
        return {"format": FORMAT, "version": VERSION, **record}

    @classmethod
    def read(cls, folder: str | Path) -> Sweep:
        """The sweep recorded in ``folder``."""
        folder = Path(folder)
        path = folder / SWEEP_FILE
        if not path.is_file():
            raise ZooError(f"{folder} is not a zoo sweep folder (no {SWEEP_FILE}); start one with "
                           "zoo sweep SPEC --space SPACE.yaml --trials N --out DIR")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT or data.get("version") != VERSION:
                raise ValueError(f"not a {FORMAT} version {VERSION} file")
            return cls(folder, data["spec"], data["space_data"], data["study"], int(data["trials"]), data["storage"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ZooError(f"{path} is damaged ({exc}); the trials are in its study storage") from None

    def start(self) -> Sweep:
        """Record this sweep in its folder, or join the identical one already there.

        Returns the sweep now recorded. The record is created exclusively (a hard link of a
        complete temporary file), so workers started at the same instant agree on one record.
        """
        folder = self.dir
        if folder.exists() and not folder.is_dir():
            raise ZooError(f"{folder} is a file, not a folder; choose another --out")
        # another worker's record in the making is not a foreign file
        others = folder.is_dir() and any(not (entry.name.startswith(".") and SWEEP_FILE in entry.name)
                                         for entry in folder.iterdir())
        if others and not self.file.exists():
            raise ZooError(f"{folder} holds files but no {SWEEP_FILE}; zoo will not sweep into it. "
                           "Choose a new or empty --out")
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".{SWEEP_FILE}.{os.getpid()}.tmp"
        atomic_write_json(temporary, self._record())
        try:
            os.link(temporary, self.file)
            return self
        except FileExistsError:
            return self._join(Sweep.read(folder))
        finally:
            temporary.unlink(missing_ok=True)

    def _join(self, recorded: Sweep) -> Sweep:
        differing = [name for name in ("spec", "space_data", "study", "storage")
                     if getattr(self, name) != getattr(recorded, name)]
        if differing:
            names = {"spec": "the spec (with its --set overrides)", "space_data": "the space",
                     "study": "the study name", "storage": "the storage"}
            raise ZooError(f"{self.dir} holds another sweep: {', '.join(names[n] for n in differing)} differ. "
                           f"Continue it with zoo sweep --resume {self.dir}, or choose another --out")
        if recorded.trials != self.trials:
            recorded.trials = self.trials
            recorded.save()
        return recorded

    def save(self) -> None:
        atomic_write_json(self.file, self._record())


def storage(sweep: Sweep) -> Any:
    """Optuna's storage: a journal file (the folder's own, or a path, e.g. on a shared file
    system) or a database URL that Optuna's RDB storage accepts (``sqlite:///``, ``postgresql://``...)."""
    from optuna.storages import RDBStorage

    if sweep.storage is None or "://" not in sweep.storage:
        path = sweep.dir / JOURNAL_FILE if sweep.storage is None else Path(sweep.storage)
        if not path.parent.is_dir():
            raise ZooError(f"--storage {path}: the folder {path.parent} does not exist")
        return journal(path)
    try:
        return RDBStorage(sweep.storage)
    except ImportError as exc:
        raise ZooError(f"--storage {safe_url(sweep.storage)}: the database driver is not installed ({exc}); "
                       "install it (e.g. pip install psycopg2-binary for postgresql://)") from None
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy's many connection and URL errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ZooError(f"--storage {safe_url(sweep.storage)}: cannot open the study database: {first}") from None


def journal(path: Path) -> Any:
    """Optuna's journal storage in ``path``, its unfinished last record dropped.

    A worker killed (or a disk filled) in the middle of an append leaves a last line without its
    newline. Optuna skips it when reading, but the next append would be glued to it, making a
    line no reader can parse: the whole study would be lost. So it is cut off first, under the
    journal's own lock (no worker is writing then). A journal that still does not parse (edited,
    damaged, not a journal) is one error naming its first bad line.
    """
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock

    if path.is_file() and path.stat().st_size:
        lock = JournalFileSymlinkLock(str(path))
        lock.acquire()
        try:
            data = path.read_bytes()
            if not data.endswith(b"\n"):
                keep = data.rfind(b"\n") + 1
                with path.open("r+b") as handle:
                    handle.truncate(keep)
                print(f"zoo: note: {path}: dropped an unfinished last record ({len(data) - keep} bytes) "
                      "left by a worker that stopped while writing it", file=sys.stderr)
        finally:
            lock.release()
    try:
        return JournalStorage(JournalFileBackend(str(path)))
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        where = _first_bad_line(path) or f"a record Optuna cannot apply ({type(exc).__name__}: {exc})"
        raise ZooError(f"{path} is damaged: {where}; it is not an Optuna journal zoo can read "
                       "(restore it, or start the sweep again in a new folder)") from None


def _first_bad_line(path: Path) -> str | None:
    """Where the journal ``path`` stops being one JSON object per line, if it does."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                if not isinstance(json.loads(line), dict):
                    raise ValueError
            except ValueError:
                return f"line {number} is not a journal record ({line[:40]!r})"
    return None


def safe_url(url: str) -> str:
    """A database URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"


def sampler(space: Space, trials_before: int = 0) -> Any:
    """The space's sampler, for a worker that finds ``trials_before`` trials in the study.

    A seeded sampler starts its random stream over in every process; seeded alike, a worker
    resuming a sweep would draw the very parameters the first trials already had. So once the
    study holds trials, the seed is derived from the space's seed and their number: a fresh
    sweep is seeded as the space says, a resumed one goes on to new values, reproducibly.
    """
    import optuna

    seed = space.seed
    if seed is not None and trials_before:
        import numpy as np

        seed = int(np.random.SeedSequence([seed, trials_before]).generate_state(1)[0])
    if space.sampler == "grid":
        return optuna.samplers.GridSampler(space.grid(), seed=seed)
    if space.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def pruner(space: Space, epochs: int) -> Any:
    """The space's pruner; its steps are epochs (1, 2, ...)."""
    import optuna

    settings = space.pruner
    if settings.type == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=settings.startup_trials,
                                           n_warmup_steps=settings.warmup_epochs)
    if settings.type == "hyperband":
        max_resource = "auto" if "train.epochs" in space.params else epochs
        return optuna.pruners.HyperbandPruner(min_resource=settings.min_epochs, max_resource=max_resource,
                                              reduction_factor=settings.reduction_factor)
    return optuna.pruners.NopPruner()


def open_study(sweep: Sweep) -> Any:
    """The sweep's study, created on first use (by whichever worker comes first)."""
    import optuna

    space = sweep.space
    study = optuna.create_study(storage=storage(sweep), sampler=sampler(space),
                                pruner=pruner(space, sweep.spec["train"]["epochs"]), study_name=sweep.study,
                                direction=space.direction, load_if_exists=True)
    trials_before = len(study.get_trials(deepcopy=False))
    if trials_before and space.seed is not None:
        study.sampler = sampler(space, trials_before)
    if study.direction.name.lower() != space.direction:
        raise ZooError(f"study {sweep.study!r} in {sweep.storage or sweep.dir / JOURNAL_FILE} was made to "
                       f"{study.direction.name.lower()}, but {space.metric} is to {space.direction}; "
                       "give another --study name")
    return study
