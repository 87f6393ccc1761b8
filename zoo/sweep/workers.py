"""Which trials are alive, which count, and what happens to the trial of a worker that died.

Several workers (processes, on one machine or many) share one study. Each running trial
records the worker that runs it (host, process id and that process's start time) and a
heartbeat it refreshes every minute. A trial left ``RUNNING`` by a worker that is gone (a
``kill -9``, a crash of the machine) is *dead*: on this host when its process no longer exists,
elsewhere when its heartbeat is ten minutes old. Every worker, at start and before each trial,
marks dead trials failed and queues a retry with the same parameters (which goes on from the dead
trial's last checkpoint), so a killed sweep goes on with ``zoo sweep --resume DIR`` and no result
is lost or computed twice.

A sweep of N trials ends when N trials have *counted*: completed, pruned, or failed for a reason
a retry would repeat (the loss diverged, the sampled spec is invalid). A trial asked for beyond N
by workers racing to the last place is given up at once (recorded as failed, ``surplus``).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HEARTBEAT_SECONDS = 60.0
STALE_SECONDS = 600.0


def identity() -> dict[str, Any]:
    """This worker, as a running trial records it."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "pid_start": _process_start(os.getpid()),
            "heartbeat": time.time()}


def _process_start(pid: int) -> str | None:
    """The start time of process ``pid`` (Linux ``/proc``), so that a reused pid is not taken for it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]  # field 22, counted after the command name


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def alive(trial: Any, now: float | None = None) -> bool:
    """Whether the worker of a ``RUNNING`` trial is still there (see the module docstring)."""
    attrs = trial.user_attrs
    if "pid" not in attrs:  # asked for but not yet started by its worker: give it a heartbeat's time
        started = trial.datetime_start.timestamp() if trial.datetime_start else time.time()
        return (now or time.time()) - started < STALE_SECONDS
    if attrs.get("host") == socket.gethostname():
        if attrs.get("pid_start") is not None and Path("/proc").is_dir():
            return _process_start(attrs["pid"]) == attrs["pid_start"]
        return _process_exists(attrs["pid"])
    return (now or time.time()) - float(attrs.get("heartbeat", 0)) < STALE_SECONDS


def counts(trial: Any) -> bool:
    """Whether a finished trial counts toward the sweep's number of trials."""
    from optuna.trial import TrialState

    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED) or (
        trial.state == TrialState.FAIL and bool(trial.user_attrs.get("final")))


def taken(trials: list[Any]) -> int:
    """Trials that counted or are running: the places of the sweep already taken."""
    from optuna.trial import TrialState

    return sum(counts(t) or t.state == TrialState.RUNNING for t in trials)


def surplus(study: Any, number: int, target: int) -> bool:
    """Whether trial ``number``, just asked for, comes after the sweep's ``target`` places are taken."""
    earlier = [t for t in study.get_trials(deepcopy=False) if t.number < number]
    return taken(earlier) >= target


def retry(study: Any, trial: Any, reason: str) -> None:
    """Queue a trial with ``trial``'s parameters, recording which trial it retries and why."""
    study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number, "retry_reason": reason})


def reap(study: Any, say) -> list[int]:
    """Mark the dead trials failed and retry each; returns their numbers."""
    from optuna.trial import TrialState

    reaped = []
    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if alive(trial, now):
            continue
        try:
            study.tell(trial.number, state=TrialState.FAIL)
        except (ValueError, RuntimeError):
            continue  # another worker marked it first, and retries it
        where = f"{trial.user_attrs.get('host', '?')} pid {trial.user_attrs.get('pid', '?')}"
        retry(study, trial, f"its worker ({where}) stopped")
        say(f"trial {trial.number} was left running by a worker that stopped ({where}); marked failed, queued again")
        reaped.append(trial.number)
    return reaped


@contextmanager
def heartbeat(trial: Any, interval: float = HEARTBEAT_SECONDS) -> Iterator[None]:
    """Refresh ``trial``'s heartbeat every ``interval`` seconds while the block runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                trial.set_user_attr("heartbeat", time.time())
            except Exception:  # noqa: BLE001 - a missed beat must not kill the trial; the next one retries
                continue

    thread = threading.Thread(target=beat, name=f"zoo-sweep-heartbeat-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
