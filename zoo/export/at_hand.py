"""A run's data, when they are at hand: prepared from the token cache or a local source, never
downloaded (for the export's self-check and for the model card of a run that did not record its
data figures)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.errors import ZooError


def data_at_hand(spec: Any, vocab: Any, run: Path, registry: Any) -> tuple[Any, str | None]:
    """``(prepared data, None)``, or ``(None, why not)`` when they cannot be had without a download
    or are not the data the run was trained on (another vocabulary)."""
    from zoo.data.download import no_downloads
    from zoo.data.prepare import prepare_data
    from zoo.rundir import with_data_source
    from zoo.runfiles import check_same_vocabulary

    try:
        local, _ = with_data_source(spec, None, registry)
        with no_downloads("zoo uses the run's data here only when they are at hand"):
            prepared = prepare_data(local, registry)
        check_same_vocabulary(vocab, prepared.vocab, run)
    except ZooError as exc:
        return None, str(exc).splitlines()[0]
    return prepared, None


def data_figures(prepared: Any) -> dict[str, Any]:
    """What the model card says of the data: texts per split, the longest training text in
    tokens, and the share of test tokens outside the vocabulary."""
    from zoo.data.vocab import Vocab

    test = prepared.splits["test"]
    return {
        "texts": {name: len(split) for name, split in prepared.splits.items()},
        "train_max_tokens": int(prepared.splits["train"].lengths.max(initial=0)),
        "test_oov_rate": float((test.ids == Vocab.UNK).mean()) if len(test.ids) else 0.0,
    }
