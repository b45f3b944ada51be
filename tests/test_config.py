"""Config dataclass: YAML round trip, preset layering, validation errors that name the flag."""

from __future__ import annotations

import pytest

from ftlab.config import TrainConfig, field_docs, resolve_config
from ftlab.errors import UserError


def test_yaml_round_trip() -> None:
    config = TrainConfig(method="lora", method_options={"r": 4}, max_steps=7, name="x1")
    assert TrainConfig.from_yaml(config.to_yaml()) == config


def test_every_field_has_a_docstring() -> None:
    docs = field_docs()
    assert set(docs) == set(TrainConfig.__dataclass_fields__)
    assert all(len(text) > 10 for text in docs.values())


def test_layers_defaults_preset_file_flags() -> None:
    seed = resolve_config({}, {"preset": "seed"})
    assert (seed.padding, seed.group_by_length, seed.learning_rate) == ("max_length", False, 2e-5)
    assert resolve_config({"preset": "seed", "learning_rate": 1e-4}, {}).learning_rate == 1e-4
    assert resolve_config({"preset": "seed", "learning_rate": 1e-4}, {"learning_rate": 3e-5}).learning_rate == 3e-5
    default = resolve_config({}, {})
    assert (default.padding, default.group_by_length, default.dataset) == ("dynamic", True, "rotten_tomatoes")


@pytest.mark.parametrize("values,flag", [
    ({"max_steps": -5}, "--max-steps"), ({"epochs": 0}, "--epochs"), ({"batch_size": 0}, "--batch-size"),
    ({"learning_rate": 5.0}, "--learning-rate"), ({"padding": "maximal"}, "--padding"),
    ({"name": "../evil"}, "run name"), ({"bogus_key": 1}, "bogus_key"),
    ({"dataset": "rotten_tomatoes", "data": "x.csv"}, "--data"),
    ({"early_stopping_patience": 2, "save_steps": 30, "eval_steps": 20}, "--save-steps"),
    ({"lr_scaling": "cubic"}, "--lr-scaling"),
])
def test_invalid_values_name_the_flag(values: dict, flag: str) -> None:
    with pytest.raises(UserError, match=flag.replace(".", r"\.")):
        TrainConfig.from_dict(values)


def test_unknown_preset_and_broken_yaml() -> None:
    with pytest.raises(UserError, match="Known presets: default, fast, seed"):
        resolve_config({}, {"preset": "turbo"})
    with pytest.raises(UserError, match="not valid YAML"):
        TrainConfig.from_yaml("epochs: [1,")


def test_preset_applies_in_python_too_and_explicit_values_win() -> None:
    seed = TrainConfig(preset="seed")
    assert (seed.padding, seed.max_length, seed.group_by_length, seed.learning_rate) == ("max_length", 128, False, 2e-5)
    assert TrainConfig(preset="seed", group_by_length=True, batch_size=32).group_by_length is True
    assert TrainConfig().padding == "dynamic" and TrainConfig().group_by_length is True


def test_the_fast_preset_takes_its_device_section_and_scales_the_learning_rate(monkeypatch) -> None:
    import ftlab.presets
    from ftlab.train import plan

    fast = TrainConfig(preset="fast", method="lora")  # no GPU here: the cpu section
    assert (fast.batch_size, fast.precision, fast.torch_compile, fast.lr_scaling) == (32, "fp32", False, "sqrt")
    assert plan(fast).learning_rate == pytest.approx(2e-3 * 2 ** 0.5)  # lora's recommended 2e-3, set at batch 16
    assert plan(TrainConfig(preset="fast", learning_rate=1e-4)).learning_rate == 1e-4  # an explicit rate wins
    assert plan(TrainConfig(method="lora", batch_size=64, lr_scaling="linear")).learning_rate == pytest.approx(8e-3)
    assert TrainConfig.from_yaml(fast.to_yaml()) == fast  # resolved values are saved: a resume trains the same
    monkeypatch.setattr(ftlab.presets, "training_device", lambda: "cuda")
    gpu = TrainConfig(preset="fast")
    assert (gpu.batch_size, gpu.precision, gpu.pad_to_multiple_of, gpu.torch_compile) == (128, "auto", 8, True)
