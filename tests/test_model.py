"""Model assembly: Embedding -> encoder -> head, from a spec."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.model import build_model, count_parameters
from zoo.spec import load_spec


@pytest.mark.parametrize("vocab_size", [2, 1000, 71088])
def test_default_recipe_has_the_reference_parameter_count(vocab_size):
    """Embedding(V, 20) + LSTM(20, 64) + Linear(64, 64) + Linear(64, 1) = 20 V + 26,241."""
    spec = load_spec("imdb-lstm")
    model = build_model(spec.model, vocab_size=vocab_size)
    assert count_parameters(model) == 20 * vocab_size + 26_241


def test_default_recipe_is_the_reference_architecture():
    model = build_model(load_spec("imdb-lstm").model, vocab_size=100)
    assert model.embedding.embedding_dim == 20 and model.embedding.padding_idx == 0
    lstm = model.encoder.rnn
    assert isinstance(lstm, torch.nn.LSTM)
    assert (lstm.input_size, lstm.hidden_size, lstm.num_layers, lstm.bidirectional) == (20, 64, 1, False)
    layers = list(model.head)
    assert [type(m) for m in layers] == [torch.nn.Linear, torch.nn.ReLU, torch.nn.Linear]
    assert (layers[0].in_features, layers[0].out_features, layers[2].out_features) == (64, 64, 1)


def test_heads_return_logits_not_probabilities():
    torch.manual_seed(0)
    model = build_model(load_spec({"model": {"head": "linear"}}).model, vocab_size=50)
    with torch.no_grad():
        model.head[-1].bias.fill_(10.0)
    logits = model(torch.randint(1, 50, (3, 6)), torch.tensor([6, 4, 1]))
    assert logits.shape == (3,)
    assert (logits > 1).all()  # a sigmoid would have squashed these below 1


def test_padding_embedding_is_zero_and_padding_does_not_change_predictions():
    torch.manual_seed(0)
    model = build_model(load_spec("imdb-lstm").model, vocab_size=30).eval()
    assert model.embedding.weight[0].abs().sum() == 0
    ids = torch.tensor([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12]])
    together = model(ids, torch.tensor([3, 5]))
    alone = model(ids[:1, :3], torch.tensor([3]))
    torch.testing.assert_close(together[:1], alone, rtol=0, atol=1e-6)


def test_same_seed_same_weights():
    spec = load_spec({"model": {"encoder": "gru"}})
    torch.manual_seed(7)
    a = build_model(spec.model, vocab_size=40)
    torch.manual_seed(7)
    b = build_model(spec.model, vocab_size=40)
    for (name, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(pa, pb), name


def test_components_build_directly_from_the_registry():
    registry = zoo.get_registry()
    encoder = registry.build("encoder", {"type": "lstm", "hidden_size": 8, "bidirectional": True}, input_size=3)
    assert encoder.output_size == 16
    head = registry.get("head", "mlp").build({"hidden_sizes": [4, 4]}, input_size=16, num_outputs=1)
    assert head(encoder(torch.randn(2, 5, 3), torch.tensor([5, 2]))).shape == (2, 1)
    tokenizer = registry.build("tokenizer", "words")
    assert tokenizer("Great<br />movie :-)") == ["great", "movie", ":)"]


PLANNED = """
import sys
from zoo.model import build_model, planned_state
from zoo.spec import load_spec
spec = load_spec("imdb-best")
planned = planned_state(spec.model, 5000, 3)
print("torch._dynamo" in sys.modules)
built = {name: (tuple(value.shape), value.dtype) for name, value in build_model(spec.model, 5000, 3).state_dict().items()}
print(planned == built)
"""


def test_planning_a_model_costs_no_compiler_import_and_gives_the_built_shapes():
    """A run's shapes are planned on the meta device before its weights are read. Filling meta
    tensors at random imported torch._dynamo (0.8 s of every zoo predict); nothing is filled now."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", PLANNED], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["False", "True"], result.stderr


CPU_SIZED = """
import torch
from pydantic import BaseModel
import zoo
from zoo.model import build_model, planned_state
from zoo.spec import load_spec


def build(config, input_size):
    # a plugin that fills a tensor of its own on the CPU and reads it: its size is 6
    size = int(torch.zeros(3, device="cpu").fill_(2.0).sum().item())
    layer = torch.nn.Linear(input_size, size)
    layer.output_size = size
    return layer


zoo.get_registry().register("encoder", "cpu-sized", config=BaseModel, factory=build)
model = load_spec("imdb-lstm", ["model.encoder=cpu-sized"]).model
planned = planned_state(model, 50, 1)
built = {name: (tuple(value.shape), value.dtype) for name, value in build_model(model, 50, 1).state_dict().items()}
print(planned == built, planned["encoder.weight"][0][0])
"""


def test_planning_fills_the_tensors_a_plugin_makes_on_the_cpu():
    """Only meta tensors go unfilled while a model is planned: a plugin that fills a tensor of
    its own on the CPU and reads it to size a layer is planned with the size it is built with."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", CPU_SIZED], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["True", "6"], result.stderr
