"""Which member dataset each multi-task batch comes from: a sampler plug-in (registered as a training option).

Every batch holds examples of one member (so each step trains one head and the shared encoder). The member of
the next batch is drawn with probability p_i ∝ n_i^(1/T): T = 1 is proportional to the members' sizes (a large
dataset dominates), larger T flattens towards uniform (T → ∞), so a small task is not drowned out.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler

from ftlab.data.multitask import member_of
from ftlab.plugins import Plugins
from ftlab.training_options import OptionContext, register_option

SAMPLING = ("proportional", "temperature", "uniform")
"""--task-sampling values."""


def member_probabilities(sizes: dict[str, int], strategy: str, temperature: float) -> dict[str, float]:
    exponent = {"proportional": 1.0, "temperature": 1.0 / temperature, "uniform": 0.0}[strategy]
    weights = {member: float(size) ** exponent for member, size in sizes.items()}
    total = sum(weights.values())
    return {member: weight / total for member, weight in weights.items()}


class TaskBatchSampler(Sampler[int]):
    """Yields indices in runs of `batch_size` from one member each, so the trainer's batches never mix members.

    An epoch has as many batches as the data holds full batches; each member's rows are reshuffled whenever
    they run out. Seeded: epoch e of seed s always yields the same order.
    """

    def __init__(self, members: list[str], batch_size: int, probabilities: dict[str, float], seed: int) -> None:
        self.batch_size = batch_size
        self.pools = {m: np.flatnonzero(np.asarray(members) == m) for m in probabilities}
        self.order = list(probabilities)
        self.probabilities = np.asarray([probabilities[m] for m in self.order])
        self.batches = max(1, len(members) // batch_size)
        self.seed, self.epoch = seed, 0

    def __len__(self) -> int:
        return self.batches * self.batch_size

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        queues = {m: rng.permutation(pool) for m, pool in self.pools.items()}
        cursor = dict.fromkeys(self.pools, 0)
        for member_index in rng.choice(len(self.order), size=self.batches, p=self.probabilities):
            member = self.order[member_index]
            pool = queues[member]
            for _ in range(self.batch_size):
                if cursor[member] == len(pool):
                    queues[member], cursor[member] = rng.permutation(self.pools[member]), 0
                    pool = queues[member]
                yield int(pool[cursor[member]])
                cursor[member] += 1


def task_sampling_plugins(context: OptionContext) -> Plugins | None:
    config = context.config
    if config.task != "multitask":
        return None
    members = [member_of(str(label)) for label in context.train_frame["label"]]
    sizes = {m: members.count(m) for m in dict.fromkeys(members)}
    probabilities = member_probabilities(sizes, config.task_sampling, config.sampling_temperature)

    def make_sampler(train_dataset, args) -> TaskBatchSampler:
        return TaskBatchSampler(members, args.per_device_train_batch_size, probabilities, args.seed)

    return Plugins(sampler=make_sampler)


register_option("task_sampling", task_sampling_plugins)
