"""Tasks: what a run learns (classification, NER, multi-task, instruction tuning of a causal LM)."""

from ftlab.tasks.base import Task, get_task, list_tasks, register_task
from ftlab.tasks.classification import CLASSIFICATION, classification_metrics
from ftlab.tasks.multitask import MULTITASK
from ftlab.tasks.ner import NER
from ftlab.tasks.sft import SFT

__all__ = ["CLASSIFICATION", "MULTITASK", "NER", "SFT", "Task", "classification_metrics", "get_task", "list_tasks", "register_task"]
