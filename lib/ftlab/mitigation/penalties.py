"""Fairness penalties on the loss (logged as `loss_dp_penalty` / `loss_eo_penalty`).

- dp-penalty: the Lagrangian of the demographic-parity difference, folded into per-row costs the way fairlearn's
  reductions do it (Agarwal et al. 2018, "A reductions approach to fair classification", ICML; fairlearn's
  `ExponentiatedGradient(DemographicParity)`), for one fixed multiplier λ = --penalty-weight.
- eo-penalty: the squared soft equalised-odds gaps of each batch (Zafar et al. 2017, AISTATS): the gap in mean
  P(positive) between groups among the batch's truly positive rows (TPR) plus among the others (FPR).

dp-penalty. The loss pays λ for every unit of P(ŷ=1 | hi) − P(ŷ=1 | lo), hi and lo being the training split's
groups with the highest and the lowest rate of the positive label (with two groups, the two). That term is linear
in each row's prediction: predicting positive costs a row of group g an extra s_g = +λ/P(hi) in hi, −λ/P(lo) in lo,
0 in any other group (P(g): the group's share of the training split). Each row then has a cost for predicting
positive, c1 = [y ≠ positive] + s_g, and for not, c0 = [y = positive]; cross-entropy is the surrogate of that
cost-sensitive problem: the row is trained toward its cheaper answer with weight |c1 − c0|. The logged term is
that weighted cross-entropy minus the plain one (so it can be negative); λ = 0 adds 0. With two labels the
loss is the weighted cross-entropy itself; with more, the weighting acts on P(positive) against the rest.

What this does: in lo, positive rows weigh 1 + λ/P(lo) and negative rows 1 − λ/P(lo); in hi, positives weigh less
and negatives more. The model learns to say "positive" more often for the rows it can tell are in lo (through the
text's proxies of the group: it never sees the column) and less often in hi, as ExponentiatedGradient does. Past
λ = P(lo) lo's negative rows are trained toward positive: larger λ over-corrects (lo selected more than hi).

Why not the squared soft gap of each batch (what dp-penalty was before): bench/fairness_mitigation.py measured it
and eight variants on adult_text. They cut the gap mostly by predicting positive less often for everyone (the
squared gap of two batch means also penalises each group's spread of P(positive), which a batch of ~5 women makes
large), and past a weight of about 5 the model predicted nobody >50K. The cost form cannot be satisfied that way.

Rows whose group the training split lacked (code -1, only in validation) keep their plain loss; EO's squared gaps
skip groups absent from a batch and add 0 when a batch (or label subset) has fewer than two groups.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from ftlab.mitigation.common import GROUP_COL, TrainingGroups
from ftlab.mitigation.registry import MitigationSpec, SelectionScore, penalty_weight, register_mitigation
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


def parity_cost_shifts(groups: TrainingGroups) -> torch.Tensor:
    """s_g / λ per group code: +1/P(hi) for the group with the highest positive-label rate, −1/P(lo) for the
    lowest, 0 for any other (see the module docstring)."""
    codes, size = groups.groups, len(groups.names)
    rows = np.bincount(codes, minlength=size)
    positives = np.bincount(codes, weights=(groups.labels == groups.positive).astype(float), minlength=size)
    share, rate = rows / len(codes), positives / np.maximum(rows, 1)
    shifts = np.zeros(size)
    hi, lo = int(np.argmax(rate)), int(np.argmin(rate))
    if hi != lo:
        shifts[hi], shifts[lo] = 1 / share[hi], -1 / share[lo]
    return torch.tensor(shifts, dtype=torch.float32)


def demographic_parity_penalty(logits: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor, positive: int,
                               shifts: torch.Tensor, weight: float) -> torch.Tensor:
    """Cost-weighted minus plain cross-entropy of P(positive) for the Lagrangian weight λ = `weight`."""
    probability = positive_probability(logits, positive).clamp(1e-7, 1 - 1e-7)
    is_positive = (labels == positive).float()
    shift = torch.where(groups >= 0, weight * shifts.to(logits.device)[groups.clamp_min(0)], 0.0)
    cost_positive, cost_negative = 1 - is_positive + shift, is_positive
    target = (cost_positive < cost_negative).float()
    row_weight = (cost_positive - cost_negative).abs()
    bce = torch.nn.functional.binary_cross_entropy
    return (row_weight * bce(probability, target, reduction="none")).mean() - bce(probability, is_positive)


def equalised_odds_penalty(logits: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor,
                           positive: int) -> torch.Tensor:
    """Squared gap among true positives (TPR) plus squared gap among true negatives (FPR)."""
    probability, is_positive = positive_probability(logits, positive), labels == positive
    return (group_gap(probability[is_positive], groups[is_positive]).pow(2)
            + group_gap(probability[~is_positive], groups[~is_positive]).pow(2))


def _term(name: str, plugin: Callable[[LossContext, torch.Tensor], torch.Tensor]) -> Plugins:
    def term(ctx: LossContext) -> torch.Tensor:
        batch_groups = ctx.extras.get(GROUP_COL)
        if batch_groups is None:  # a batch that did not come through `with_group_codes`
            return ctx.loss.new_zeros(())
        return plugin(ctx, batch_groups)

    return Plugins(loss_terms={name: term}, extra_columns=(GROUP_COL,))


def build_dp(config: TrainConfig, groups: TrainingGroups) -> Plugins:
    shifts, weight = parity_cost_shifts(groups), penalty_weight(config)
    return _term("dp_penalty", lambda ctx, batch_groups: demographic_parity_penalty(
        ctx.outputs.logits, ctx.inputs["labels"], batch_groups, groups.positive, shifts, weight))


def build_eo(config: TrainConfig, groups: TrainingGroups) -> Plugins:
    weight = penalty_weight(config)
    return _term("eo_penalty", lambda ctx, batch_groups: weight * equalised_odds_penalty(
        ctx.outputs.logits, ctx.inputs["labels"], batch_groups, groups.positive))


def parity_lagrangian(metrics: dict[str, float], config: TrainConfig) -> float:
    """(1 - accuracy) + λ · DP difference: the objective dp-penalty trains on, scored on the validation rows (a
    DP difference that cannot be measured, with one group among those rows, counts as 0)."""
    gap = metrics.get("dp_difference", float("nan"))
    return (1 - metrics["accuracy"]) + penalty_weight(config) * (0.0 if np.isnan(gap) else gap)


DP = register_mitigation(MitigationSpec(
    name="dp-penalty", build=build_dp, default_weight=0.35,
    selection=SelectionScore("dp_objective", parity_lagrangian),
    description="Charge the loss λ per unit of demographic-parity difference (fairlearn's reductions, as row costs); "
                "end on the checkpoint with the lowest (1 - accuracy) + λ · DP difference on the validation rows.",
))
EO = register_mitigation(MitigationSpec(
    name="eo-penalty", build=build_eo, default_weight=1.0,
    description="Add the batch's squared equalised-odds gaps (TPR and FPR between groups) to the loss.",
))
