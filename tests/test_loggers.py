"""Loggers: a component kind that plugins register and specs list; the built-in TensorBoard logger."""

from __future__ import annotations

import json
import sys

import pytest

from plugin_packages import make_distribution, run_zoo
from zoo.errors import PluginError, SpecError
from zoo.spec import load_spec

TINY = {"model": {"embedding": {"dim": 4}, "encoder": {"type": "gru", "hidden_size": 4}, "head": "linear"}}

RECORDING_LOGGER = '''
"""A logger that writes each lifecycle event it gets to a file (a test plugin)."""
import json

from pydantic import BaseModel, ConfigDict
from zoo import hookimpl


class RecordConfig(BaseModel):
    """Lifecycle events, one JSON line each, appended to a file."""

    model_config = ConfigDict(extra="forbid")
    path: str


class Recorder:
    def __init__(self, config):
        self.path = config.path

    def _write(self, *event):
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(event) + "\\n")

    def on_run_start(self, run):
        self._write("on_run_start", run.start_epoch)

    def on_epoch_end(self, epoch, metrics):  # only the arguments it needs
        self._write("on_epoch_end", epoch, sorted(metrics)[:2])

    def on_checkpoint_saved(self, **event):
        self._write("on_checkpoint_saved", event["path"].name, event["best"])

    def on_run_end(self, run, summary):
        self._write("on_run_end", summary["epochs_run"])


@hookimpl
def register_components(registry):
    registry.register("logger", "record", config=RecordConfig, factory=Recorder)
'''


def test_loggers_are_listed_by_name_or_with_options_and_checked_against_the_registered_ones():
    assert load_spec({}).loggers == []
    assert [logger.type for logger in load_spec({"loggers": "tensorboard"}).loggers] == ["tensorboard"]
    assert load_spec({"loggers": [{"type": "tensorboard"}]}).loggers == load_spec({"loggers": ["tensorboard"]}).loggers
    with pytest.raises(SpecError) as caught:
        load_spec({"loggers": ["tensorbord", "wandb"]})
    message = str(caught.value)
    assert "loggers.0: unknown logger 'tensorbord'; registered loggers: tensorboard. Did you mean 'tensorboard'?" in message
    assert "loggers.1: unknown logger 'wandb'; registered loggers: tensorboard" in message
    with pytest.raises(SpecError, match="loggers: 'tensorboard' listed more than once; list each logger once"):
        load_spec({"loggers": ["tensorboard", {"type": "tensorboard"}]})
    with pytest.raises(SpecError, match=r"loggers.0.dir: unknown field; it takes no fields"):
        load_spec({"loggers": [{"type": "tensorboard", "dir": "x"}]})


def test_a_plugin_logger_is_listed_validated_and_recorded_in_run_json(tmp_path):
    site = make_distribution(tmp_path / "site", "zoo-record", "0.3", {"zoo_record": RECORDING_LOGGER},
                             {"record": "zoo_record"})
    listed = run_zoo("list", "--kind", "logger", "--json", site=site)
    assert listed.returncode == 0, listed.stderr.decode()
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert (rows["record"]["distribution"], rows["tensorboard"]["distribution"]) == ("zoo-record", "rnn-zoo")
    assert rows["record"]["description"] == "Lifecycle events, one JSON line each, appended to a file."
    table = run_zoo("list", "--kind", "logger", env={"COLUMNS": "250"}).stdout.decode()
    assert "TensorBoard event files under RUN/tensorboard/ (needs pip install 'rnn-zoo[tensorboard]')." in table
    spec = tmp_path / "spec.yaml"
    spec.write_text("loggers: [{type: record}]\n")
    invalid = run_zoo("validate", str(spec), site=site)
    assert invalid.returncode == 2 and "loggers.0.path: Field required" in invalid.stderr.decode()


def test_a_plugin_logger_acts_only_for_the_runs_that_list_it(tmp_path, monkeypatch):
    from zoo.plugins import load_plugins
    from zoo.testing import smoke_train

    (tmp_path / "dev_record.py").write_text(RECORDING_LOGGER)
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = load_plugins(("dev_record",))
    events = tmp_path / "events.jsonl"

    smoke_train(TINY, tmp_path / "without", per_label=8, plugins=plugins)
    assert not events.exists()  # registered, installed, but not listed: it did nothing

    spec = {**TINY, "loggers": [{"type": "record", "path": str(events)}]}
    smoke_train(spec, tmp_path / "with", epochs=2, per_label=8, plugins=plugins)
    recorded = [json.loads(line) for line in events.read_text().splitlines()]
    assert recorded[0] == ["on_run_start", 0]
    assert recorded[1] == ["on_epoch_end", 1, ["best", "epoch"]]
    assert ["on_checkpoint_saved", "last.safetensors", False] in recorded
    assert recorded[-1] == ["on_run_end", 2]
    components = json.loads((tmp_path / "with" / "run" / "run.json").read_text())["components"]
    assert components["logger/record"] == {"plugin": "dev_record", "distribution": None, "version": None}


def test_tensorboard_writes_event_files_only_when_enabled(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from zoo.testing import smoke_train

    summary = smoke_train({**TINY, "loggers": ["tensorboard"]}, tmp_path / "on", epochs=2, per_label=12)
    logs = tmp_path / "on" / "run" / "tensorboard"
    assert list(logs.glob("events.out.tfevents.*"))
    events = EventAccumulator(str(logs))
    events.Reload()
    assert {"loss/train", "loss/valid", "accuracy/valid", "lr", "test/accuracy"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("loss/valid")] == [1, 2]
    assert events.Scalars("test/accuracy")[0].value == pytest.approx(summary["test"]["accuracy"])

    smoke_train(TINY, tmp_path / "off", per_label=12)
    assert not (tmp_path / "off" / "run" / "tensorboard").exists()


def test_tensorboard_missing_stops_the_run_at_its_start_with_the_install_command(tmp_path, monkeypatch):
    from zoo.testing import smoke_train

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if not installed
    with pytest.raises(PluginError) as caught:
        smoke_train({**TINY, "loggers": ["tensorboard"]}, tmp_path, per_label=12)
    message = str(caught.value)
    assert message.startswith("plugin builtin-tensorboard failed in on_run_start: the spec enables the tensorboard logger")
    assert "pip install 'rnn-zoo[tensorboard]'" in message
    assert not (tmp_path / "run" / "checkpoints").exists()  # stopped before the first epoch
