"""Tasks: what a run learns (classification here; NER and SFT plug in the same way)."""

from ftlab.tasks.base import Task, get_task, list_tasks, register_task
from ftlab.tasks.classification import CLASSIFICATION, classification_metrics

__all__ = ["CLASSIFICATION", "Task", "classification_metrics", "get_task", "list_tasks", "register_task"]
