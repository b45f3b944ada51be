"""Global magnitude pruning (`torch.nn.utils.prune`): zero the fraction `s` of the encoder's Linear weights with
the smallest |w|, ranked across all those layers together, optionally fine-tune with the zeros held, then make the
zeros permanent.

Which weights: the query, key, value, attention-output and both feed-forward matrices of every transformer block
(on MiniLM 36 matrices, 10.6M of its 22.7M parameters): they hold the model's compute. The word embeddings are left
alone (a lookup table: zeroing entries damages the rare words' vectors and saves no compute), and so are the
pooler and the task head (small, and every prediction goes through them). Modules a method added (adapters,
prefix encoders) are not pruned either.

Unstructured zeros cost the same as any other number in a dense tensor: a pruned model is just as large on disk
and just as slow until it is stored in a sparse format (or compressed: zeros compress well) and run by sparse
kernels. `ftlab compress` reports the zipped size beside the dense one to show what the zeros would save.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn
from torch.ao.nn.quantized import dynamic as quantized_dynamic
from torch.nn.utils import prune

from ftlab.methods.common import transformer_blocks

LINEAR_TYPES = (nn.Linear, quantized_dynamic.Linear)
"""A prunable layer before and after int8 quantization (sparsity is measured on both)."""


@dataclass(frozen=True)
class Sparsity:
    zeros: int
    total: int

    @property
    def fraction(self) -> float:
        return self.zeros / self.total if self.total else 0.0


def _own_modules(module: nn.Module, prefix: str) -> Iterator[tuple[str, nn.Module]]:
    """The module's descendants that belong to the pre-trained architecture: a module of ftlab's own (a method's
    adapter or prefix) is skipped with everything inside it."""
    for name, child in module.named_children():
        if type(child).__module__.startswith("ftlab."):
            continue
        yield f"{prefix}.{name}", child
        yield from _own_modules(child, f"{prefix}.{name}")


def prunable_linears(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, layer) of every Linear layer of the architecture inside the transformer blocks (see the module
    docstring), fp32 or int8."""
    blocks = transformer_blocks(model)
    stack = next(name for name, module in model.named_modules() if module is blocks)
    return [(name, module) for index, block in enumerate(blocks)
            for name, module in _own_modules(block, f"{stack}.{index}") if isinstance(module, LINEAR_TYPES)]


def layer_weight(module: nn.Module) -> torch.Tensor:
    """The weight as float values: int8 layers hold it packed behind a method (zero stays exactly zero: torch's
    dynamic int8 weights are quantized symmetrically, with zero point 0)."""
    weight = module.weight
    return weight().dequantize() if callable(weight) else weight.detach()


def measure_sparsity(model: nn.Module) -> Sparsity:
    """Zeros among the prunable weights (`prunable_linears`), read from the weights as they are."""
    weights = [layer_weight(module) for _, module in prunable_linears(model)]
    return Sparsity(zeros=sum(int((w == 0).sum()) for w in weights), total=sum(w.numel() for w in weights))


def expected_zeros(total: int, sparsity: float) -> int:
    """How many weights `prune_global` zeroes: torch rounds the fraction to a whole count."""
    return round(sparsity * total)


def prune_global(model: nn.Module, sparsity: float) -> list[tuple[nn.Module, str]]:
    """Mask the `sparsity` fraction of smallest-magnitude prunable weights, ranked globally (L1, unstructured).

    The masks stay attached (each layer computes weight = weight_orig * weight_mask) so that a fine-tune keeps the
    pruned weights at zero: their gradient is multiplied by the mask. `make_permanent` writes the zeros in."""
    parameters = [(module, "weight") for _, module in prunable_linears(model)]
    prune.global_unstructured(parameters, pruning_method=prune.L1Unstructured, amount=sparsity)
    return parameters


def make_permanent(parameters: Sequence[tuple[nn.Module, str]]) -> None:
    """Replace each mask and original by the masked weight itself, an ordinary parameter with the zeros in it."""
    for module, name in parameters:
        prune.remove(module, name)


def finetune_pruned(model: nn.Module, tokenizer: Any, frame: pd.DataFrame, *, task: Any, config: Any,
                    labels: list[str], steps: int, learning_rate: float, output_dir: Path,
                    callbacks: Sequence[Any] = (), progress: bool = False) -> dict[str, float]:
    """`steps` optimizer steps of ftlab's Trainer on `frame` (the run's training split), with the pruning masks
    still attached, so the pruned weights stay zero. Trains the parameters that require a gradient; returns the
    Trainer's metrics. The parent's training options (augmentation, mitigation, adversarial) are not applied."""
    from transformers import TrainingArguments, set_seed

    from ftlab.trainer import FtlabTrainer

    set_seed(config.seed)
    args = TrainingArguments(
        output_dir=str(output_dir), per_device_train_batch_size=config.batch_size, learning_rate=learning_rate,
        weight_decay=config.weight_decay, warmup_steps=config.warmup_ratio, max_steps=steps,
        logging_strategy="steps", logging_steps=max(1, min(config.log_steps, steps)), logging_first_step=True,
        eval_strategy="no", save_strategy="no", report_to="none", disable_tqdm=not progress,
        remove_unused_columns=False,  # the `length` column is removed in compute_loss
        seed=config.seed, data_seed=config.seed, dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    trainer = FtlabTrainer(model=model, args=args, train_dataset=task.encode(frame, tokenizer, config, labels),
                           data_collator=task.collator(tokenizer, config), processing_class=tokenizer,
                           callbacks=list(callbacks))
    output = trainer.train()
    model.eval()
    return dict(output.metrics)
