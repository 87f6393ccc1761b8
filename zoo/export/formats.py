"""A trained model as ONNX (``model.onnx``) or as a torch.export program (``model.pt2``).

Both are traced from the model by ``torch.export`` with a dynamic batch and sequence length
(recurrent layers kept dynamic by :mod:`zoo.export.recurrent`); ONNX goes on through torch's
ONNX exporter (``torch.onnx.export(..., dynamo=True)``; TorchScript is not used). Inputs: ``ids``
int64 ``(B, T)`` (zero-padded token ids) and ``lengths`` int64 ``(B,)``; output ``logits``
float32, ``(B,)`` for a binary task, ``(B, labels)`` else.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator

import torch

from zoo.export.recurrent import dynamic_recurrent_layers, onnx_translations

INPUTS = ("ids", "lengths")
OUTPUT = "logits"


def example_inputs(model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch to trace with whose batch size and length equal no size in the model and neither
    0 nor 1, so that the tracer cannot mistake either for a fixed dimension; lengths mixed."""
    sizes = {0, 1} | {size for tensor in model.state_dict().values() for size in tensor.shape}
    batch = next(n for n in range(3, 10**6) if n not in sizes)
    steps = next(n for n in range(batch + 2, 10**6) if n not in sizes)
    lengths = torch.tensor([steps, 1, *[(steps * k) // batch or 1 for k in range(2, batch)]], dtype=torch.int64)
    ids = torch.zeros((batch, steps), dtype=torch.int64)
    vocab = model.state_dict()["embedding.weight"].shape[0]
    for row, length in enumerate(lengths.tolist()):
        ids[row, :length] = torch.arange(length) % max(vocab - 2, 1) + min(2, vocab - 1)
    return ids, lengths


def _program(model: torch.nn.Module) -> torch.export.ExportedProgram:
    batch, steps = torch.export.Dim("batch", min=1), torch.export.Dim("steps", min=1)
    with dynamic_recurrent_layers(), torch.no_grad():
        return torch.export.export(model.eval(), example_inputs(model),
                                   dynamic_shapes={"ids": {0: batch, 1: steps}, "lengths": {0: batch}})


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Torch's exporters announce their steps and warn about what zoo's models do not use."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._export", "onnxscript")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)


def to_onnx(model: torch.nn.Module) -> tuple[bytes, int]:
    """The ONNX model's bytes and its opset."""
    with _quiet():
        program = _program(model)
        with dynamic_recurrent_layers():  # the exporter traces again while decomposing
            onnx_program = torch.onnx.export(program, example_inputs(model), None, dynamo=True, input_names=INPUTS,
                                             output_names=[OUTPUT], custom_translation_table=onnx_translations(),
                                             optimize=True, verbose=False)
    proto = onnx_program.model_proto
    opset = next(entry.version for entry in proto.opset_import if entry.domain in ("", "ai.onnx"))
    return proto.SerializeToString(), opset


def to_program(model: torch.nn.Module) -> bytes:
    """The bytes of a ``torch.export`` program (``torch.export.save``)."""
    with _quiet():
        program = _program(model)
        buffer = io.BytesIO()
        torch.export.save(program, buffer)
    return buffer.getvalue()
