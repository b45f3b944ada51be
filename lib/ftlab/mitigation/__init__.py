"""Bias mitigation during training, through the trainer's sampler and loss plug-ins: one module per mitigation,
registered by name (`--mitigation`). Importing this package registers the built-in ones: `none`, `reweigh`
(Kamiran-Calders reweighing), `dp-penalty` (the demographic-parity Lagrangian as row costs) and `eo-penalty` (squared soft
equalised-odds gaps).

Training calls `with_group_codes` on its frames and merges `mitigation_plugins(config, train_frame, labels)`
with the user's plug-ins; `validation` adds the validation rows' disparities to each evaluation and says which
checkpoint a mitigation ends on (dp-penalty: the best validation score of the objective it trains).
"""

from ftlab.mitigation.common import (GROUP_COL, TrainingGroups, check_sensitive_col, group_codes, group_names,
                                     with_group_codes)
# Importing penalties and reweigh registers them (after `none`, which the registry module registers itself).
from ftlab.mitigation.penalties import (demographic_parity_penalty, equalised_odds_penalty, group_gap,
                                        parity_cost_shifts)
from ftlab.mitigation.registry import (MitigationSpec, get_mitigation, list_mitigations, mitigation_plugins,
                                       penalty_weight, register_mitigation)
from ftlab.mitigation.reweigh import kamiran_calders_weights, reweigh_sampler

__all__ = ["GROUP_COL", "MitigationSpec", "TrainingGroups", "check_sensitive_col", "demographic_parity_penalty",
           "equalised_odds_penalty", "get_mitigation", "group_codes", "group_gap", "group_names",
           "kamiran_calders_weights", "list_mitigations", "mitigation_plugins", "parity_cost_shifts",
           "penalty_weight", "register_mitigation",
           "reweigh_sampler", "with_group_codes"]
