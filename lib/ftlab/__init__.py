"""ftlab: the Fine-Tuning Workbench library.

>>> import ftlab
>>> summary = ftlab.train(ftlab.TrainConfig(dataset="rotten_tomatoes", method="lora", max_steps=30))  # doctest: +SKIP
>>> ftlab.predict(summary["run_id"], ["A warm, funny film."])  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

# Names are imported on first use: `ftlab jobs`, the job worker and the app's light pages should not pay for
# importing torch and transformers (seconds) when they never train.
_EXPORTS = {
    "TrainConfig": "ftlab.config", "resolve_config": "ftlab.config",
    "UserError": "ftlab.errors",
    "load_trained": "ftlab.evaluate", "predict": "ftlab.evaluate", "predictions": "ftlab.evaluate",
    "home": "ftlab.home",
    "LossContext": "ftlab.plugins", "Plugins": "ftlab.plugins",
    "list_runs": "ftlab.records", "summary": "ftlab.records",
    "load_splits": "ftlab.train", "resume": "ftlab.train", "train": "ftlab.train",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ftlab' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        # Importing the submodule `ftlab.train` (or `ftlab.home`) would otherwise rebind `ftlab.train` from the
        # function to the module; the submodules stay reachable through `from ftlab.train import ...`.
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
