"""Multi-task data: `--dataset rotten_tomatoes+adult_text` joins registered classification datasets into one
frame whose labels carry their dataset's name (`rotten_tomatoes:fresh`, `adult_text:>50K`), so one encoder can
learn every member's label set, each through its own head (`ftlab.tasks.multitask`).
"""

from __future__ import annotations

import pandas as pd

from ftlab.errors import UserError

SEPARATOR = "+"
"""Between member datasets in a multi-task name; dataset names cannot contain it."""
LABEL_SEPARATOR = ":"
"""Between a member's name and its own label."""
TASK_COL = "task"
"""Which member dataset each row comes from."""


def is_multitask(name: str | None) -> bool:
    return bool(name) and SEPARATOR in str(name)


def member_names(name: str) -> list[str]:
    members = [m.strip() for m in name.split(SEPARATOR)]
    if len(members) < 2 or any(not m for m in members) or len(set(members)) != len(members):
        raise UserError(f"A multi-task --dataset joins two or more different datasets with '+', got {name!r}; "
                        "e.g. --task multitask --dataset rotten_tomatoes+adult_text.")
    return members


def member_of(label: str) -> str:
    """`rotten_tomatoes` for `rotten_tomatoes:fresh`."""
    return label.split(LABEL_SEPARATOR, 1)[0]


def member_label(label: str) -> str:
    """`fresh` for `rotten_tomatoes:fresh`: the label as the member dataset names it."""
    return label.split(LABEL_SEPARATOR, 1)[1]


def composite_spec(name: str):
    """A `DatasetSpec` for a '+'-joined name, built on the fly from the registered members."""
    from ftlab.data.registry import DatasetSpec, get_dataset

    members = [get_dataset(member) for member in member_names(name)]
    wrong = [m.name for m in members if m.task != "classification"]
    if wrong:
        raise UserError(f"Multi-task training joins classification datasets; {', '.join(wrong)} "
                        f"{'is' if len(wrong) == 1 else 'are'} for another task. Choose classification datasets "
                        "(`ftlab datasets`).")

    def load() -> pd.DataFrame:
        frames = []
        for spec in members:
            frame = spec.load()
            frame = frame.assign(label=spec.name + LABEL_SEPARATOR + frame["label"].astype(str), **{TASK_COL: spec.name})
            # Rows that must stay together in one split stay together; the others are their own group.
            groups = frame[spec.group_col].astype(str) if spec.group_col else pd.Series(frame.index.astype(str))
            frames.append(frame.assign(split_group=spec.name + "/" + groups.to_numpy()))
        return pd.concat(frames, ignore_index=True)

    return DatasetSpec(name=name, task="multitask", load=load, group_col="split_group",
                       description="Multi-task: " + ", ".join(m.name for m in members))
