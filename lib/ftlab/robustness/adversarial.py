"""Adversarial training on the word embeddings (`--adversarial fgm|pgd`), as the trainer's `training_step` plug-in.

Each training step first runs the trainer's own forward and backward on the clean batch, which leaves the
gradient g of the loss with respect to the word-embedding matrix E. Then:

- **FGM** (fast gradient method, Miyato et al. 2017, "Adversarial training methods for semi-supervised text
  classification"): E ← E + r with r = ε · g / ‖g‖₂, one more forward and backward on the same batch, E restored.
- **PGD** (projected gradient descent, Madry et al. 2018, as in the common "PGD for NLP" recipe): K steps
  E ← E + α · g_t / ‖g_t‖₂, each followed by a projection of the total perturbation back into the ε ball around
  the clean E and a forward and backward whose gradient g_{t+1} steers the next step; only the last step's
  gradient is added to the clean one, then E is restored.

The parameters therefore receive ∇L(clean) + ∇L(perturbed) and the optimizer steps on the restored, clean E.
The perturbation lives on the matrix, so it only touches the rows of the batch's tokens (the others have zero
gradient), and it reaches every method: where the method freezes the embeddings (LoRA, prompt tuning...) the
matrix gets a gradient for the length of the step only. Models whose output layer shares the input embedding
matrix (tied language-model heads) would see that layer perturbed too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from ftlab.errors import UserError
from ftlab.plugins import Plugins, StepFn
from ftlab.training_options import OptionContext, register_option

LOSS_NAME = "adversarial"
"""Logged as `loss_adversarial`: the mean loss on the perturbed batches since the last log."""


def adversarial_plugins(context: OptionContext) -> Plugins | None:
    """The training option: the FGM or PGD step for `--adversarial`, nothing for `none`."""
    config = context.config
    if config.adversarial == "none":
        return None
    if config.adversarial == "fgm":
        return Plugins(training_step=fgm_step(config.adversarial_epsilon))
    return Plugins(training_step=pgd_step(config.adversarial_epsilon, config.adversarial_alpha,
                                          config.adversarial_steps))


def fgm_step(epsilon: float) -> StepFn:
    """A `training_step` plug-in: the clean step, then one step on embeddings moved by ε · g / ‖g‖₂."""

    def step(trainer: Any, model: nn.Module, inputs: dict[str, Any], num_items_in_batch: Any,
             default_step: Callable[..., torch.Tensor]) -> torch.Tensor:
        with perturbed_embeddings(trainer, model) as (weight, _clean):
            loss = default_step(model, inputs, num_items_in_batch)
            with torch.no_grad():
                weight.add_(along_gradient(weight.grad, epsilon))
            adversarial = default_step(model, inputs, num_items_in_batch)
        trainer.record_term(LOSS_NAME, float(adversarial))
        return loss

    return step


def pgd_step(epsilon: float, alpha: float, steps: int) -> StepFn:
    """A `training_step` plug-in: the clean step, then `steps` projected steps of size α within the ε ball."""

    def step(trainer: Any, model: nn.Module, inputs: dict[str, Any], num_items_in_batch: Any,
             default_step: Callable[..., torch.Tensor]) -> torch.Tensor:
        with perturbed_embeddings(trainer, model) as (weight, clean):
            loss = default_step(model, inputs, num_items_in_batch)
            trained = [p for p in model.parameters() if p.requires_grad]
            clean_grads = {p: p.grad.clone() for p in trained if p.grad is not None}
            for t in range(steps):
                with torch.no_grad():
                    weight.add_(along_gradient(weight.grad, alpha))
                    weight.copy_(clean + project(weight - clean, epsilon))
                if t < steps - 1:
                    model.zero_grad()  # the next step follows the gradient at this perturbation alone
                else:
                    for p in trained:  # the last perturbed batch's gradient adds to the clean one
                        p.grad = clean_grads.get(p)
                adversarial = default_step(model, inputs, num_items_in_batch)
        trainer.record_term(LOSS_NAME, float(adversarial))
        return loss

    return step


def along_gradient(grad: torch.Tensor | None, size: float) -> torch.Tensor | float:
    """size · g / ‖g‖₂ (the whole matrix's L2 norm); 0 where there is no usable gradient (all zero, or inf/nan
    from an fp16 overflow, which the loss scaler then skips)."""
    if grad is None:
        return 0.0
    norm = torch.linalg.vector_norm(grad)
    if not torch.isfinite(norm) or norm == 0:
        return 0.0
    return size * grad / norm


def project(delta: torch.Tensor, epsilon: float) -> torch.Tensor:
    """`delta` scaled back onto the L2 ball of radius ε when it lies outside."""
    norm = torch.linalg.vector_norm(delta)
    return delta * (epsilon / norm) if norm > epsilon else delta


@contextmanager
def perturbed_embeddings(trainer: Any, model: nn.Module) -> Iterator[tuple[nn.Parameter, torch.Tensor]]:
    """The word-embedding matrix to perturb and a copy of its clean values, which it gets back on leaving
    (also when a step raises), so the optimizer always steps on the clean matrix."""
    with embedding_weight(trainer, model) as weight:
        clean = weight.detach().clone()
        try:
            yield weight, clean
        finally:
            with torch.no_grad():
                weight.copy_(clean)


@contextmanager
def embedding_weight(trainer: Any, model: nn.Module) -> Iterator[nn.Parameter]:
    """The model's word-embedding matrix, with a gradient for the length of the step even where the method
    froze it (its gradient is dropped afterwards, so the optimizer never sees it)."""
    embeddings = trainer.accelerator.unwrap_model(model).get_input_embeddings()
    weight = getattr(embeddings, "weight", None)
    if not isinstance(weight, nn.Parameter):
        raise UserError(f"--adversarial perturbs the model's word-embedding matrix, and this model's input "
                        f"embeddings ({type(embeddings).__name__}) have none; use --adversarial none.")
    frozen = not weight.requires_grad
    weight.requires_grad_(True)
    try:
        yield weight
    finally:
        if frozen:
            weight.requires_grad_(False)
            weight.grad = None


register_option("adversarial", adversarial_plugins)
