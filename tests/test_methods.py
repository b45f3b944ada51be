"""Every registered method, a few real optimizer steps on the embedded model over one fixed batch:
the loss drops, the promised parameters change, every frozen parameter stays bit-identical."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest
import torch
from transformers import TrainingArguments, set_seed

import fixtures
from ftlab.config import TrainConfig
from ftlab.methods import get_method, list_methods
from ftlab.models import load_tokenizer
from ftlab.tasks import get_task
from ftlab.trainer import FtlabTrainer
from ftlab.training_options import OptionContext

# (method, options, steps, promised: which parameter names must train)
CASES: list[tuple[str, dict, int, Callable[[str], bool]]] = [
    ("full", {}, 12, lambda n: True),
    ("freeze", {"layers": 2}, 20, lambda n: ".layer.4." in n or ".layer.5." in n or n.startswith("classifier")),
    ("bitfit", {}, 25, lambda n: n.endswith(".bias") or n.startswith("classifier")),
    ("lora", {"r": 4}, 20, lambda n: "lora_" in n or "modules_to_save" in n),
    ("ia3", {}, 20, lambda n: "ia3_l" in n or "modules_to_save" in n),
    ("prompt_tuning", {"num_virtual_tokens": 8}, 20, lambda n: "prompt_encoder" in n or "modules_to_save" in n),
    ("p_tuning", {"num_virtual_tokens": 8}, 20, lambda n: "prompt_encoder" in n or "modules_to_save" in n),
    ("prefix_tuning", {"num_virtual_tokens": 8}, 20, lambda n: n.startswith(("ftlab_prefix.", "classifier."))),
    ("adapters", {"config": "houlsby", "size": 16}, 20, lambda n: ".adapter_" in n or n.startswith("classifier.")),
    # The student: the teacher (conftest's trained_run, labels fresh/rotten) cut to 3 layers, with the KL term on.
    ("distill", {"teacher": fixtures.DISTILL_TEACHER, "student_layers": 3}, 12, lambda n: True),
]
LABELS = ["fresh", "rotten"]
NEEDS_RUN = {"distill": "trained_run"}
"""Cases whose options name a run: the session fixture that trains it."""


def test_every_registered_method_has_a_case() -> None:
    assert {m.name for m in list_methods()} == {c[0] for c in CASES}


def _batch_loss(model: torch.nn.Module, batch: dict) -> float:
    model.eval()
    with torch.no_grad():
        return float(model(**batch).loss)


@pytest.mark.parametrize("name,options,steps,promised", CASES, ids=[c[0] for c in CASES])
def test_method_trains_only_what_it_promises(name, options, steps, promised, tmp_path, request) -> None:
    if name in NEEDS_RUN:
        request.getfixturevalue(NEEDS_RUN[name])
    set_seed(0)
    task, spec = get_task("classification"), get_method(name)
    frame = pd.DataFrame(fixtures.OVERFIT_TEXTS, columns=["text", "label"])
    config = TrainConfig()
    tokenizer = load_tokenizer("minilm")
    method_config = spec.make_config(options)
    model = spec.apply(task.load_model("minilm", LABELS), method_config)
    # The method's own plug-ins, as training merges them (distillation's KL term).
    context = OptionContext(config, frame, LABELS, tokenizer, task)
    plugins = spec.plugins(method_config, context) if spec.plugins else None
    dataset = task.encode(frame, tokenizer, config, LABELS)
    collator = task.collator(tokenizer, config)
    batch = {k: v for k, v in collator([dataset[i] for i in range(len(dataset))]).items() if k != "length"}

    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    loss_before = _batch_loss(model, batch)
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=len(frame), max_steps=steps,
                             learning_rate=spec.default_learning_rate, warmup_steps=0, save_strategy="no",
                             report_to="none", disable_tqdm=True, dataloader_pin_memory=False, remove_unused_columns=False, seed=0)
    FtlabTrainer(model=model, args=args, train_dataset=dataset, data_collator=collator, plugins=plugins).train()
    loss_after = _batch_loss(model, batch)

    assert loss_after < loss_before * 0.95, f"{name}: loss {loss_before:.4f} -> {loss_after:.4f}"
    changed, trainable = set(), set()
    for n, p in model.named_parameters():
        if p.requires_grad:
            trainable.add(n)
        if not torch.equal(before[n], p.detach()):
            changed.add(n)
    assert trainable and all(promised(n) for n in trainable), sorted(n for n in trainable if not promised(n))[:5]
    assert changed == trainable, f"trainable but unchanged: {sorted(trainable - changed)[:5]}; " \
                                 f"frozen but changed: {sorted(changed - trainable)[:5]}"
