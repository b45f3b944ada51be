"""Fairness penalties on the loss: differentiable demographic-parity and equalised-odds gaps of each training
batch, times --penalty-weight, added to the task loss (logged as `loss_dp_penalty` / `loss_eo_penalty`).

The constraints are those of Zafar et al. 2017 ("Fairness constraints: mechanisms for fair classification",
AISTATS) and of fairlearn's reductions (`DemographicParity`, `EqualizedOdds`; Agarwal et al. 2018). Those count
hard positive predictions, which have no gradient; the soft relaxation used here replaces each group's rate of
positive predictions by its mean predicted probability of the positive class (softmax of the logits; with more
than two labels, one-vs-rest for the positive label, see `ftlab.mitigation.common`).

- dp-penalty: gap = (largest − smallest) over the batch's groups of the mean P(positive); penalty = gap².
- eo-penalty: the same squared gap among the batch's rows whose true label is positive (the TPR gap) plus among
  those whose true label is not (the FPR gap).

Why the largest minus the smallest group: with two groups it is their difference; with more it is the largest
pairwise gap, what fairlearn's `demographic_parity_difference` reports, so the penalty pushes on the number the
fairness report shows (the gradient reaches the two extreme groups). Why squared rather than absolute: the pull
shrinks as the gap closes, so a batch's sampling noise (a gap of a few points) costs little and the term does not
keep kicking a gap that is already near zero, where the absolute value's constant-size gradient flips sign.

Groups absent from a batch are skipped; a batch (or label subset) with fewer than two groups adds 0. Rows whose
group the training split lacked (code -1, only in validation) are left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from ftlab.mitigation.common import GROUP_COL, TrainingGroups
from ftlab.mitigation.registry import MitigationSpec, register_mitigation
from ftlab.plugins import LossContext, Plugins

if TYPE_CHECKING:
    from ftlab.config import TrainConfig


def positive_probability(logits: torch.Tensor, positive: int) -> torch.Tensor:
    return torch.softmax(logits.float(), dim=-1)[:, positive]


def group_gap(values: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Largest minus smallest per-group mean of `values` (groups < 0 left out); 0 with fewer than two groups."""
    known = groups >= 0
    values, groups = values[known], groups[known]
    present = torch.unique(groups)
    if len(present) < 2:
        return values.new_zeros(())
    member = (groups[:, None] == present[None, :]).to(values.dtype)
    means = (member * values[:, None]).sum(0) / member.sum(0)
    return means.max() - means.min()


def demographic_parity_penalty(logits: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor,
                               positive: int) -> torch.Tensor:
    """Squared gap between groups in the mean predicted probability of the positive label (`labels` unused)."""
    return group_gap(positive_probability(logits, positive), groups).pow(2)


def equalised_odds_penalty(logits: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor,
                           positive: int) -> torch.Tensor:
    """Squared gap among true positives (TPR) plus squared gap among true negatives (FPR)."""
    probability, is_positive = positive_probability(logits, positive), labels == positive
    return (group_gap(probability[is_positive], groups[is_positive]).pow(2)
            + group_gap(probability[~is_positive], groups[~is_positive]).pow(2))


Penalty = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int], torch.Tensor]


def _builder(term_name: str, penalty: Penalty) -> Callable[[TrainConfig, TrainingGroups], Plugins]:
    def build(config: TrainConfig, groups: TrainingGroups) -> Plugins:
        def term(ctx: LossContext) -> torch.Tensor:
            batch_groups = ctx.extras.get(GROUP_COL)
            if batch_groups is None:  # a batch that did not come through `with_group_codes`
                return ctx.loss.new_zeros(())
            value = penalty(ctx.outputs.logits, ctx.inputs["labels"], batch_groups, groups.positive)
            return config.penalty_weight * value

        return Plugins(loss_terms={term_name: term}, extra_columns=(GROUP_COL,))

    return build


DP = register_mitigation(MitigationSpec(
    name="dp-penalty", build=_builder("dp_penalty", demographic_parity_penalty),
    description="Add the batch's squared demographic-parity gap (mean P(positive) between groups) to the loss.",
))
EO = register_mitigation(MitigationSpec(
    name="eo-penalty", build=_builder("eo_penalty", equalised_odds_penalty),
    description="Add the batch's squared equalised-odds gaps (TPR and FPR between groups) to the loss.",
))
