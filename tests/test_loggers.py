"""The spec's ``loggers`` list and the built-in TensorBoard logger plugin."""

from __future__ import annotations

import sys

import pytest

from zoo.errors import PluginError, SpecError
from zoo.spec import KNOWN_LOGGERS, load_spec

TINY = {"model": {"embedding": {"dim": 4}, "encoder": {"type": "gru", "hidden_size": 4}, "head": "linear"}}


def test_loggers_default_to_none_and_unknown_names_list_the_known_ones():
    assert load_spec({}).loggers == []
    assert load_spec({"loggers": "tensorboard"}).loggers == ["tensorboard"]
    with pytest.raises(SpecError) as caught:
        load_spec({"loggers": ["tensorbord", "wandb"]})
    message = str(caught.value)
    assert "loggers: unknown loggers 'tensorbord', 'wandb' (did you mean 'tensorboard'?)" in message
    assert f"Known loggers: {', '.join(sorted(KNOWN_LOGGERS))}" in message


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
    assert "pip install 'zoo[tensorboard]'" in message
    assert not (tmp_path / "run" / "checkpoints").exists()  # stopped before the first epoch
