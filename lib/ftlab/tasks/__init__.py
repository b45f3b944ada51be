"""Tasks: what a run learns (classification, NER; SFT plugs in the same way)."""

from ftlab.tasks.base import Task, get_task, list_tasks, register_task
from ftlab.tasks.classification import CLASSIFICATION, classification_metrics
from ftlab.tasks.multitask import MULTITASK
from ftlab.tasks.ner import NER

__all__ = ["CLASSIFICATION", "MULTITASK", "NER", "Task", "classification_metrics", "get_task", "list_tasks", "register_task"]
