"""Helpers for testing plugins: tiny made-up data, a smoke training run, component contract checks.

Use them from a plugin's own test suite (pytest or anything else)::

    from zoo.testing import check_encoder, smoke_train

    def test_my_encoder_keeps_the_contract():
        check_encoder({"type": "cnn", "channels": 8}, input_size=6)

    def test_my_encoder_trains(tmp_path):
        summary = smoke_train({"model": {"encoder": {"type": "cnn"}}}, tmp_path)
        assert summary["epochs_run"] == 1

The data are invented: IMDB-layout folders (``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt``)
of made-up words, a few of which carry the label, so that a model learns the task in an epoch or
two. No real review text is involved. Everything is written under the ``tmp_path`` you give.

A dataset plugin is checked with :func:`check_dataset` on the tiny data its test writes, and
trained with ``smoke_train({"data": {"dataset": "mine", "source": ...}}, tmp_path)``.

Components are looked up in the process-wide plugins (every installed plugin: install yours with
``pip install -e .`` first), or in the ``plugins`` / ``registry`` you pass, e.g.
``zoo.plugins.load_plugins(("my_module",))`` for a module that is not installed (either argument
takes what ``load_plugins`` returns).
"""

from __future__ import annotations

import os
import pickle
import random
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

#: Invented words only; the first two lists carry the label.
POSITIVE_WORDS = ["zapfy", "glonk", "brivel", "sunmo", "tarvish", "pelloo", "quindle"]
NEGATIVE_WORDS = ["mudge", "skorn", "drabble", "vexit", "clumber", "grisp", "plonder"]
FILLER_WORDS = ["ta", "lo", "mir", "fen", "oku", "zar", "bim", "dwel", "kesh", "nuro", "pim",
                "sala", "tev", "wub", "yorn", "ab", "ce", "di", "fo", "gu"]


def made_up_review(rng: random.Random, positive: bool) -> str:
    """One invented review: filler words with two to four words of its label mixed in."""
    words = rng.choices(FILLER_WORDS, k=rng.randint(3, 25))
    cue = POSITIVE_WORDS if positive else NEGATIVE_WORDS
    for _ in range(rng.randint(2, 4)):
        words.insert(rng.randrange(len(words) + 1), rng.choice(cue))
    text = " ".join(words).capitalize() + "."
    if rng.random() < 0.3:
        text = text.replace(" ", "<br /><br />", 1)  # the markup real IMDB reviews carry
    return text


def write_imdb_folder(root: str | Path, per_label: int = 40, seed: int = 0) -> Path:
    """Write ``root/aclImdb`` with ``per_label`` made-up reviews per split and label; returns it."""
    rng = random.Random(seed)
    base = Path(root) / "aclImdb"
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            folder = base / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_label):
                rating = rng.randint(7, 10) if label == "pos" else rng.randint(1, 4)
                text = made_up_review(rng, label == "pos")
                (folder / f"{i}_{rating}.txt").write_text(text, encoding="utf-8")
    return base


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``, section by section (a component given by name stays a name)."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@contextmanager
def _environ(**values: str) -> Iterator[None]:
    old = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def smoke_train(
    spec: dict[str, Any] | str | Path | BaseModel | None,
    tmp_path: str | Path,
    overrides: Iterable[str] = (),
    *,
    epochs: int = 1,
    per_label: int = 40,
    plugins: Any = None,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Train ``spec`` for ``epochs`` epochs on tiny data under ``tmp_path``; returns the summary.

    ``spec`` is anything :func:`zoo.load_spec` takes (a dict, a file, a recipe name, a spec
    object) or ``None`` for the defaults; ``overrides`` are ``dotted.path=value`` strings applied
    after it. A spec whose dataset is ``imdb`` (or that names none) is pointed at made-up
    IMDB-layout data (split ``official``, ``per_label`` reviews per split and label, a quarter of
    the training reviews held out for validation). A spec naming another dataset keeps it, with
    its own ``data.source``: a dataset plugin's test gives its tiny data there. Training defaults
    to batches of 16. The token cache goes to ``tmp_path/cache`` and the run to ``out`` (default
    ``tmp_path/run``). ``summary["run_dir"]`` is the run directory; ``zoo.load`` reads it back.
    """
    from zoo.plugins import get_plugins
    from zoo.progress import TrainProgress
    from zoo.spec import apply_overrides, load_spec, read_spec_file, resolve_spec_path
    from zoo.trainer import train

    tmp_path = Path(tmp_path)
    plugins = plugins or get_plugins()
    if spec is None:
        data: dict[str, Any] = {}
    elif isinstance(spec, BaseModel):
        data = spec.model_dump(mode="json")
    elif isinstance(spec, dict):
        data = spec
    else:
        data = read_spec_file(resolve_spec_path(spec))
    data = _merge({"name": "smoke", "train": {"batch_size": 16, "eval_batch_size": 64}}, data)
    data = apply_overrides(data, [*overrides, f"train.epochs={epochs}"])
    if _dataset_name(data) in (None, "imdb"):
        source = write_imdb_folder(tmp_path / "data", per_label=per_label)
        data["data"] = {
            **(data.get("data") or {}),
            "source": str(source),
            "dataset": {"type": "imdb", "split": "official", "valid_size": max(2, per_label // 2)},
            "limit": None,
        }
    validated = load_spec(data, registry=plugins.registry)
    with _environ(ZOO_CACHE_DIR=str(tmp_path / "cache")):
        return train(
            validated,
            out=Path(out) if out is not None else tmp_path / "run",
            force=True,
            plugins=plugins,
            progress=TrainProgress(epochs, live=False, log_every=float("inf")),
        )


def _dataset_name(data: dict[str, Any]) -> str | None:
    """The dataset a raw spec names (``data.dataset`` as a name or ``{type: name}``), if any."""
    dataset = (data.get("data") or {}).get("dataset")
    if isinstance(dataset, dict):
        return dataset.get("type")
    return dataset


# --- component contract checks ---------------------------------------------------------------


def _registry(registry: Any) -> Any:
    """A registry from ``registry``: a ``Registry``, the ``Plugins`` that ``load_plugins`` returns,
    or ``None`` for every installed plugin's."""
    from zoo.plugins import Plugins, get_registry

    if registry is None:
        return get_registry()
    return registry.registry if isinstance(registry, Plugins) else registry


def check_encoder(
    encoder: Any,
    input_size: int = 8,
    *,
    registry: Any = None,
    batch_size: int = 5,
    max_length: int = 11,
    seed: int = 0,
    atol: float = 1e-5,
) -> Any:
    """Check an encoder against the contract; returns the module.

    ``encoder`` is an ``nn.Module`` or its spec (``{"type": "cnn", ...}`` or a name) built with
    ``input_size``. Checked, in eval mode on random input: an int ``output_size``; ``(B, T, E)`` +
    ``(B,)`` lengths give a finite ``(B, output_size)``; a review's vector is the same alone and
    unpadded, in a batch, with garbage in its padded positions, and with extra padding; gradients
    reach the parameters, if it has any.
    """
    import torch

    if not isinstance(encoder, torch.nn.Module):
        encoder = _registry(registry).build("encoder", encoder, input_size=input_size)
    output_size = getattr(encoder, "output_size", None)
    assert isinstance(output_size, int) and output_size > 0, f"output_size must be a positive int, not {output_size!r}"
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([max_length, 1, *torch.randint(1, max_length + 1, (batch_size - 2,), generator=generator).tolist()])
    x = torch.randn(len(lengths), max_length, input_size, generator=generator)
    padded = torch.arange(max_length)[None, :] >= lengths[:, None]
    x[padded] = 0.0
    encoder.eval()
    with torch.no_grad():
        out = encoder(x, lengths)
        assert tuple(out.shape) == (len(lengths), output_size), (
            f"expected output shape {(len(lengths), output_size)}, got {tuple(out.shape)}"
        )
        assert torch.isfinite(out).all(), "the encoder's output is not finite"
        garbage = x.clone()
        garbage[padded] = 1e3 * torch.randn(int(padded.sum()), input_size, generator=generator)
        torch.testing.assert_close(encoder(garbage, lengths), out, atol=atol, rtol=1e-4,
                                   msg=lambda m: f"values in padded positions changed the output: {m}")
        longer = torch.cat([garbage, torch.randn(len(lengths), 4, input_size, generator=generator)], dim=1)
        torch.testing.assert_close(encoder(longer, lengths), out, atol=atol, rtol=1e-4,
                                   msg=lambda m: f"extra padding changed the output: {m}")
        for row, length in enumerate(lengths.tolist()):
            alone = encoder(x[row : row + 1, :length], lengths[row : row + 1])
            torch.testing.assert_close(alone[0], out[row], atol=atol, rtol=1e-4,
                                       msg=lambda m: f"review {row} alone differs from it in a batch: {m}")
    params = [p for p in encoder.parameters() if p.requires_grad]
    if params:  # a parameter-free encoder (a mean of the embeddings, say) has nothing to train
        encoder.train()
        encoder(x, lengths).sum().backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in params), (
            "no gradient reaches the encoder's parameters"
        )
        encoder.zero_grad(set_to_none=True)
    encoder.eval()
    return encoder


def check_head(head: Any, input_size: int = 8, num_outputs: int = 1, *, registry: Any = None,
               batch_size: int = 5) -> Any:
    """Check a head: ``(B, input_size)`` gives finite logits ``(B, num_outputs)``; returns it."""
    import torch

    if not isinstance(head, torch.nn.Module):
        head = _registry(registry).build("head", head, input_size=input_size, num_outputs=num_outputs)
    head.eval()
    with torch.no_grad():
        out = head(torch.randn(batch_size, input_size))
    assert tuple(out.shape) == (batch_size, num_outputs), (
        f"expected logits of shape {(batch_size, num_outputs)}, got {tuple(out.shape)}"
    )
    assert torch.isfinite(out).all(), "the head's logits are not finite"
    return head


SAMPLE_TEXTS = [
    "A zapfy film.<br /><br />Glonk, brivel!",
    "",
    "   ",
    "mudge SKORN drabble :) 123",
    "Ça m'a ému 😀 \u0007",
    "word " * 500,
]


def check_tokenizer(tokenizer: Any, texts: Iterable[str] = SAMPLE_TEXTS, *, registry: Any = None) -> Any:
    """Check a tokenizer: ``str -> list[str]`` for any text, and the same after pickling; returns it."""
    if not callable(tokenizer) or isinstance(tokenizer, (str, dict, BaseModel)):
        tokenizer = _registry(registry).build("tokenizer", tokenizer)
    try:  # data preparation tokenizes in worker processes
        copy = pickle.loads(pickle.dumps(tokenizer))
    except Exception as exc:  # noqa: BLE001 - pickle's many errors are one failed check
        raise AssertionError(f"the tokenizer must be picklable (a frozen dataclass with __call__ is), "
                             f"not {tokenizer!r}: {type(exc).__name__}: {exc}") from exc
    for text in texts:
        tokens = tokenizer(text)
        assert isinstance(tokens, list) and all(isinstance(t, str) and t for t in tokens), (
            f"tokenizer({text[:30]!r}) must give a list of non-empty strings, not {tokens[:5]!r}"
        )
        assert copy(text) == tokens, "the unpickled tokenizer gives other tokens"
    return tokenizer


def check_dataset(
    dataset: Any,
    source: str | Path | None = None,
    *,
    registry: Any = None,
    cache_dir: str | Path | None = None,
    seed: int = 1,
    max_fingerprint_seconds: float = 1.0,
) -> dict[str, Any]:
    """Check a dataset against the contract of :mod:`zoo.data.interface`; returns its splits.

    ``dataset`` is a built dataset or its spec (``{"type": "tsv", ...}`` or a name); ``source``
    is what a spec's ``data.source`` would hold, ``cache_dir`` the cache root handed to ``load``
    (default: a temporary folder, removed afterwards). Checked: ``fingerprint(source)`` is a
    non-empty string computed within ``max_fingerprint_seconds``, and the same after loading;
    ``load`` returns exactly the splits ``train``, ``valid`` and ``test``, none empty, of string
    texts and label ids into ``labels`` (read after ``load``, as zoo does; lists of ids for a
    ``multilabel`` dataset), at least two labels in training; a second ``load`` with the same
    seed gives the same splits (the token cache relies on it).
    """
    import tempfile
    import time

    from zoo.data.prepare import check_classes, checked_splits
    from zoo.errors import DataError

    if isinstance(dataset, (str, dict, BaseModel)):
        dataset = _registry(registry).build("dataset", dataset)
    name = type(dataset).__name__
    source = None if source is None else str(source)
    started = time.perf_counter()
    fingerprint = dataset.fingerprint(source)
    seconds = time.perf_counter() - started
    assert isinstance(fingerprint, str) and fingerprint, f"fingerprint() must give a non-empty str, not {fingerprint!r}"
    assert seconds <= max_fingerprint_seconds, (
        f"fingerprint() took {seconds:.2f} s; it keys the token cache on every run, so it must be "
        "cheap (sizes and modification times, a checksum already known), not read the data"
    )
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(cache_dir) if cache_dir is not None else Path(scratch)
        loaded = dataset.load(source, root, seed=seed)
        labels = list(dataset.labels)
        assert len(labels) >= 2 and len(set(labels)) == len(labels), (
            f"labels must name two or more distinct labels, not {labels!r}"
        )
        assert all(isinstance(label, str) and label for label in labels), f"labels must be non-empty str: {labels!r}"
        multilabel = bool(getattr(dataset, "multilabel", False))
        try:
            splits = checked_splits(loaded, labels, name, multilabel)
            check_classes(splits, labels, f"dataset {name}", multilabel)
        except DataError as exc:
            raise AssertionError(str(exc)) from None
        again = checked_splits(dataset.load(source, root, seed=seed), labels, name, multilabel)
    for split, part in splits.items():
        assert again[split] == part, f"a second load(seed={seed}) gave another {split} split; load must be deterministic"
    assert dataset.fingerprint(source) == fingerprint, "fingerprint() changed after load(); it must depend on the data only"
    return splits
