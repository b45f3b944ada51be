"""ftlab: the Fine-Tuning Workbench library.

>>> import ftlab
>>> summary = ftlab.train(ftlab.TrainConfig(dataset="rotten_tomatoes", method="lora", max_steps=30))  # doctest: +SKIP
>>> ftlab.predict(summary["run_id"], ["A warm, funny film."])  # doctest: +SKIP
"""

from ftlab.config import TrainConfig, resolve_config
from ftlab.errors import UserError
from ftlab.evaluate import load_trained, predict, predictions
from ftlab.home import home
from ftlab.plugins import LossContext, Plugins
from ftlab.records import list_runs, summary
from ftlab.train import load_splits, resume, train

__all__ = ["LossContext", "Plugins", "TrainConfig", "UserError", "home", "list_runs", "load_splits", "load_trained",
           "predict", "predictions", "resolve_config", "resume", "summary", "train"]
