"""The methods catalogue beyond `test_methods.py`'s table: prefix tuning really acts in every layer, adapters sit
where their configuration says and start as the identity, saved runs of every kind reload with their own
weights, and options that do not fit a method are refused."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import ftlab
import fixtures
from ftlab import runs
from ftlab.evaluate import load_trained, predictions
from ftlab.methods import get_method
from ftlab.model_files import SUBSET_FILE
from ftlab.models import load_tokenizer
from ftlab.tasks import get_task

LABELS = ["fresh", "rotten"]
TEXTS = ["A warm, funny and moving film.", "Dull.", "The plot drags on and on and never goes anywhere at all."]


@pytest.fixture(scope="module")
def base() -> torch.nn.Module:
    torch.manual_seed(0)
    return get_task("classification").load_model("minilm", LABELS).eval()


@pytest.fixture(scope="module")
def batch() -> dict:
    return dict(load_tokenizer("minilm")(TEXTS, padding=True, return_tensors="pt"))


def _logits(model: torch.nn.Module, batch: dict) -> torch.Tensor:
    with torch.no_grad():
        return model(**batch).logits


def test_prefix_tuning_puts_keys_and_values_in_every_layer(base, batch) -> None:
    spec = get_method("prefix_tuning")
    model = spec.apply(copy.deepcopy(base), spec.make_config({"num_virtual_tokens": 4, "projection": False})).eval()
    table = model.ftlab_prefix.encoder.embedding.weight  # (n, layers * 2 * hidden): the keys and values themselves
    layers, hidden = model.config.num_hidden_layers, model.config.hidden_size
    assert table.shape == (4, layers * 2 * hidden)
    reference = _logits(model, batch)
    for layer in range(layers):
        for part, name in enumerate(("keys", "values")):
            start = (layer * 2 + part) * hidden
            with torch.no_grad():
                saved = table[:, start:start + hidden].clone()
                table[:, start:start + hidden] += torch.randn_like(saved)
            moved = (_logits(model, batch) - reference).abs().max()
            with torch.no_grad():
                table[:, start:start + hidden] = saved
            assert moved > 1e-4, f"the prefix {name} of layer {layer} do not reach the output"


def test_prefix_positions_are_visible_to_padded_texts_too(base, batch) -> None:
    """The widened attention mask: a text scores the same alone and padded inside a batch."""
    spec = get_method("prefix_tuning")
    model = spec.apply(copy.deepcopy(base), spec.make_config({"num_virtual_tokens": 4})).eval()
    alone = _logits(model, dict(load_tokenizer("minilm")(TEXTS[1:2], return_tensors="pt")))
    padded = _logits(model, batch)[1:2]
    assert batch["attention_mask"][1].sum() < batch["attention_mask"].shape[1], "the text must be padded here"
    torch.testing.assert_close(alone, padded, atol=1e-5, rtol=1e-4)
    assert sum(p.numel() for n, p in model.named_parameters() if p.requires_grad and n.startswith("bert.")) == 0


@pytest.mark.parametrize("config,per_layer", [("pfeiffer", 1), ("houlsby", 2)])
def test_adapters_sit_where_their_configuration_says_and_start_as_the_identity(base, batch, config, per_layer):
    spec = get_method("adapters")
    model = spec.apply(copy.deepcopy(base), spec.make_config({"config": config, "size": 8})).eval()
    adapters = [name for name, _ in model.named_modules() if name.rsplit(".", 1)[-1].startswith("adapter_")]
    assert len(adapters) == per_layer * model.config.num_hidden_layers
    assert all(".output.adapter_feed_forward" in a or ".attention.output.adapter_attention" in a for a in adapters)
    torch.testing.assert_close(_logits(model, batch), _logits(base, batch))  # up-projections start at zero
    with torch.no_grad():
        model.get_submodule(adapters[-1]).up.weight.normal_()  # (a constant bias would vanish in the LayerNorm)
    assert (_logits(model, batch) - _logits(base, batch)).abs().max() > 1e-3, "the adapter is not in the forward pass"


@pytest.mark.parametrize("method,options,problem", [
    ("prefix_tuning", {"num_virtual_tokens": 0}, "--prefix-tuning-num-virtual-tokens"),
    ("prompt_tuning", {"num_virtual_tokens": 0}, "--prompt-tuning-num-virtual-tokens"),
    ("p_tuning", {"encoder": "gru"}, "--p-tuning-encoder must be one of mlp, lstm"),
    ("adapters", {"config": "parallel"}, "--adapters-config must be one of houlsby, pfeiffer"),
    ("lora", {"init": "loftq"}, "--lora-init must be one of"),
])
def test_options_that_do_not_fit_are_refused(method: str, options: dict, problem: str) -> None:
    with pytest.raises(ftlab.UserError, match=problem):
        get_method(method).make_config(options)


def test_an_adapter_wider_than_the_model_is_refused(base) -> None:
    spec = get_method("adapters")
    with pytest.raises(ftlab.UserError, match="--adapters-size 384 is not smaller than the model's hidden size 384"):
        spec.apply(copy.deepcopy(base), spec.make_config({"size": 384}))


@pytest.mark.parametrize("method", ["prefix_tuning", "adapters", "bitfit", "freeze", "prompt_tuning", "ia3", "full"])
def test_a_saved_run_reloads_with_its_own_weights(method: str, fresh_home) -> None:
    run = ftlab.train(ftlab.TrainConfig(**{**fixtures.TINY_JOB, "method": method, "max_steps": 3, "test_size": 16,
                                           "name": f"reload-{method}"}))
    in_memory, _ = predictions(run["run_id"], "test")  # scored at the end of training, by the model in memory
    reloaded, _ = predictions(run["run_id"], "test", refresh_cache=True)
    columns = [f"prob_{label}" for label in LABELS]
    np.testing.assert_allclose(reloaded[columns].to_numpy(), in_memory[columns].to_numpy(), atol=1e-5)

    folder = runs.run_dir(run["run_id"]) / "model"
    saved = {p.name for p in folder.iterdir()}
    if method == "full":
        assert "model.safetensors" in saved and SUBSET_FILE not in saved
    elif method in ("prompt_tuning", "ia3"):
        assert "adapter_model.safetensors" in saved  # peft's own adapter folder
    else:  # the trained tensors alone, as peft saves an adapter: exactly the trainable set, nothing of the base
        assert "model.safetensors" not in saved and "tokenizer.json" in saved
        model, tokenizer, config, labels, task = load_trained(run["run_id"])
        trainable = {name for name, p in model.named_parameters() if p.requires_grad}
        assert set(load_file(folder / SUBSET_FILE)) == trainable
        assert run["metrics"]["trainable_params"] < 0.5 * run["metrics"]["total_params"]
        # The control: the base model with the method applied but not its saved tensors predicts differently.
        spec = get_method(method)
        torch.manual_seed(1)
        bare = spec.apply(task.load_model(config.model, labels), spec.make_config({}))
        encoded = dict(tokenizer(reloaded["text"].tolist(), padding=True, truncation=True, return_tensors="pt"))
        assert (_logits(model, encoded) - _logits(bare.eval(), encoded)).abs().max() > 1e-4
