"""Knowledge distillation (Hinton, Vinyals and Dean, 2015): a smaller student learns from the labels and from a
finished run, its teacher, through the trainer's loss plug-in:

    loss = CE(z_s, y) + alpha · T² · KL(softmax(z_t / T) ‖ softmax(z_s / T))

z_s and z_t are the student's and the teacher's logits on the same batch (one tokenizer, so the same input_ids);
the teacher runs in eval mode without gradients. A temperature T > 1 softens both distributions, so the student
also learns how the teacher ranks the wrong classes ("dark knowledge"). Why T²: the KL term's gradient with
respect to z_s is (softmax(z_s/T) - softmax(z_t/T)) / T, which shrinks like 1/T² as T grows (Hinton et al.,
section 2.1); multiplying by T² keeps the soft targets' share of the gradient about the same at every T, so
`alpha` means the same whatever the temperature.

The student is, by default, the teacher's own fine-tuned model cut to 3 of its layers (embeddings, those layers
and the head copied from the teacher), saved as a whole, smaller model; `student_layers 0` distils into `--model`
as loaded instead. Every student parameter trains.
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ftlab.errors import UserError
from ftlab.methods.common import transformer_blocks
from ftlab.methods.registry import MethodSpec, register_method
from ftlab.plugins import LossContext, LossTerm, Plugins

log = logging.getLogger("ftlab")

LAYER_CHOICES = ("spread", "first")
TEACHER_FLAG = "--distill-teacher (or --teacher)"


@dataclass
class DistillOptions:
    teacher: str | None = None
    """The teacher: a finished classification run (its id, as `ftlab runs` lists it) trained on data with the same
    labels, e.g. a `--method full` run. Required."""
    student_layers: int = 3
    """Layers of the student: the teacher's own fine-tuned model cut to this many layers (embeddings, the chosen
    layers and the head copied from it). 0: the student is `--model` as loaded, which must use the teacher's
    tokenizer."""
    layer_choice: str = "spread"
    """Which of the teacher's layers the student keeps: `spread` (evenly over the stack, first and last included:
    one layer out of two, as DistilBERT initialised its student; 12 -> 6 gives DistilBERT's layers 0, 2, 4, 7, 9,
    11) or `first` (the bottom layers). `spread` keeps the top layer the head was trained on: cut from a MiniLM
    teacher, it scored 0.67 on rotten_tomatoes before any training, `first` 0.50 (both 0.77 after 200 steps)."""
    temperature: float = 2.0
    """T, dividing both models' logits before the softmax: above 1 softens them, so the student also learns how the
    teacher ranks the wrong classes (greater than 0)."""
    alpha: float = 0.5
    """Weight of the distillation term alpha · T² · KL next to the cross-entropy on the labels (0 or more; 0 trains
    the same student on the labels alone, without running the teacher)."""

    def __post_init__(self) -> None:
        if not isinstance(self.student_layers, int) or isinstance(self.student_layers, bool) \
                or self.student_layers < 0:
            raise UserError(f"--distill-student-layers must be 0 or a positive whole number, got "
                            f"{self.student_layers!r}; e.g. --distill-student-layers 3.")
        if self.layer_choice not in LAYER_CHOICES:
            raise UserError(f"--distill-layer-choice must be one of {', '.join(LAYER_CHOICES)}, got "
                            f"{self.layer_choice!r}.")
        if not _number(self.temperature) or not 0 < self.temperature < math.inf:
            raise UserError(f"--distill-temperature must be a number greater than 0, got {self.temperature!r}; "
                            "e.g. --distill-temperature 2.")
        if not _number(self.alpha) or not 0 <= self.alpha < math.inf:
            raise UserError(f"--distill-alpha must be a number of 0 or more, got {self.alpha!r}; "
                            "e.g. --distill-alpha 0.5.")
        check_teacher(self.teacher)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# -- the teacher ------------------------------------------------------------------------------------------------

def check_teacher(run_id: str | None) -> None:
    """Refuse, before any run folder is written, a teacher that is missing, unknown, unfinished or not a
    classification run (its labels are checked against the data once the data is read, in `apply`)."""
    from ftlab import runs

    if not run_id:
        raise UserError(f"--method distill needs a teacher: {TEACHER_FLAG} RUN, a finished classification run "
                        "trained on the same labels (e.g. one of `--method full`). List runs with `ftlab runs`.")
    try:
        state = runs.refresh(runs.read_state(run_id))
        config = runs.read_config(run_id)
    except UserError as exc:
        raise UserError(f"{TEACHER_FLAG}: {exc}") from exc
    if state.status != "finished":
        raise UserError(f"{TEACHER_FLAG} {run_id}: the run is {state.status}, and a teacher must be a finished run. "
                        f"Wait for it, continue it with `ftlab train --resume {run_id}`, or pick another run.")
    if config.task != "classification":
        raise UserError(f"{TEACHER_FLAG} {run_id}: it is a {config.task} run; distillation teaches a classification "
                        "student. Pick a classification run (`ftlab runs`).")
    if not (runs.run_dir(run_id) / "model").is_dir():
        raise UserError(f"{TEACHER_FLAG} {run_id}: the run has no trained model folder, so it cannot teach. "
                        "Pick a run that finished training (`ftlab runs`).")


def load_teacher(run_id: str) -> nn.Module:
    """The teacher's trained model, frozen and in eval mode (a fresh copy: training must not share it with the
    cache of `ftlab.load_trained`)."""
    from ftlab import runs
    from ftlab.model_files import load_model_from
    from ftlab.tasks import get_task

    check_teacher(run_id)
    config, labels = runs.read_config(run_id), runs.read_state(run_id).labels
    model = load_model_from(runs.run_dir(run_id) / "model", config, labels, get_task(config.task))
    for param in model.parameters():
        param.requires_grad_(False)
    return model.eval()


def merged(model: nn.Module) -> nn.Module:
    """A peft adapter (LoRA, IA3) merged into the weights: the same predictions from one plain forward pass."""
    if hasattr(model, "merge_and_unload"):
        try:
            return model.merge_and_unload()
        except (AttributeError, ValueError, NotImplementedError, TypeError):
            pass  # prompt-learning adapters cannot merge; they still teach as they are
    return model


def plain_model(model: nn.Module, run_id: str) -> nn.Module:
    """The teacher as a plain transformers model whose layers can seed a student."""
    from transformers import PreTrainedModel

    from ftlab import runs
    from ftlab.methods.registry import get_method

    model = merged(model)
    if not isinstance(model, PreTrainedModel) or get_method(runs.read_config(run_id).method).injects_modules:
        raise UserError(f"{TEACHER_FLAG} {run_id}: its method adds modules outside the model's own layers (prompt, "
                        "prefix or adapter methods), so its layers cannot seed a student. Use --distill-student-layers "
                        "0 (the student is --model), or a teacher trained with full, freeze, bitfit, lora or ia3.")
    return model


def labels_of(model: nn.Module) -> list[str]:
    id2label = model.config.id2label
    return [str(id2label[i]) for i in range(len(id2label))]


# -- the student ------------------------------------------------------------------------------------------------

def chosen_layers(total: int, keep: int, choice: str) -> list[int]:
    """Indices of the teacher's layers the student keeps, bottom to top."""
    if choice == "first":
        return list(range(keep))
    # Evenly spaced, first and last included (halves round to even): 12 -> 6 gives DistilBERT's [0, 2, 4, 7, 9, 11],
    # 6 -> 3 gives [0, 2, 5].
    return [round(i * (total - 1) / max(keep - 1, 1)) for i in range(keep)]


def cut_layers(teacher: nn.Module, layers: list[int]) -> nn.Module:
    """A new model of the teacher's class with only `layers` of its stack, renumbered from 0, every tensor copied
    from the teacher. Built from a config that says len(layers) layers (as DistilBERT's extraction script does, by
    renaming state-dict keys), so `save_pretrained` and `from_pretrained` give that smaller model; transformers has
    no call that drops layers."""
    blocks = transformer_blocks(teacher)
    prefix = next(name for name, module in teacher.named_modules() if module is blocks)
    config = copy.deepcopy(teacher.config)
    config.num_hidden_layers = len(layers)
    if isinstance(getattr(config, "layer_types", None), list):  # per-layer settings of some architectures
        config.layer_types = [config.layer_types[i] for i in layers]
    new_index = {old: new for new, old in enumerate(layers)}
    state = {}
    for key, tensor in teacher.state_dict().items():
        if key.startswith(prefix + "."):
            index, rest = key[len(prefix) + 1:].split(".", 1)
            if int(index) not in new_index:
                continue
            key = f"{prefix}.{new_index[int(index)]}.{rest}"
        state[key] = tensor.detach().clone()
    student = type(teacher)(config)
    student.load_state_dict(state)  # strict: the student holds nothing that did not come from the teacher
    return student


def apply(model: nn.Module, options: DistillOptions) -> nn.Module:
    """The student: `model` itself (student_layers 0) or the teacher cut to `student_layers` layers; all trains."""
    from ftlab import runs

    theirs, ours = runs.read_state(options.teacher).labels, labels_of(model)
    if theirs != ours:
        raise UserError(f"{TEACHER_FLAG} {options.teacher} was trained on the labels {theirs}, but this run's data "
                        f"has {ours}: a teacher can only teach the labels it knows. Train the student on the "
                        "teacher's data (or a teacher on this data).")
    student = model
    if options.student_layers:
        teacher = plain_model(load_teacher(options.teacher), options.teacher)
        total = len(transformer_blocks(teacher))
        if options.student_layers > total:
            raise UserError(f"--distill-student-layers {options.student_layers} is more than the teacher's {total} "
                            f"layers; use at most {total} (fewer makes the student smaller and faster).")
        layers = chosen_layers(total, options.student_layers, options.layer_choice)
        student = cut_layers(teacher, layers)
        student.ftlab_task, student.ftlab_new_parameters = getattr(model, "ftlab_task", "classification"), set()
        log.info("student: layers %s of the teacher's %d", layers, total)
    for param in student.parameters():
        param.requires_grad_(True)
    return student


# -- the loss term ----------------------------------------------------------------------------------------------

def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """T² · KL(softmax(teacher / T) ‖ softmax(student / T)), averaged over the batch."""
    t = temperature
    log_student = F.log_softmax(student_logits.float() / t, dim=-1)
    log_teacher = F.log_softmax(teacher_logits.float() / t, dim=-1)
    return F.kl_div(log_student, log_teacher, reduction="batchmean", log_target=True) * t * t


def kl_term(teacher: nn.Module, temperature: float, alpha: float) -> LossTerm:
    """The loss plug-in: alpha · T² · KL to the teacher's predictions on the same batch (logged as loss_distill)."""

    def term(ctx: LossContext) -> torch.Tensor:
        logits = ctx.outputs["logits"]
        if not ctx.model.training:  # evaluation reports the task loss alone, comparable with other runs' eval_loss
            return logits.new_zeros(())
        if next(teacher.parameters()).device != logits.device:
            teacher.to(logits.device)
        with torch.no_grad():
            teacher_logits = teacher(**{k: v for k, v in ctx.inputs.items() if k != "labels"})["logits"]
        return alpha * distillation_loss(logits, teacher_logits, temperature)

    return term


def check_same_vocabulary(student_tokenizer: Any, teacher_tokenizer: Any, teacher: str, model: str) -> None:
    """The teacher reads the student's input_ids, so both must come from one vocabulary."""
    if student_tokenizer.get_vocab() != teacher_tokenizer.get_vocab():
        raise UserError(f"--model {model} has another tokenizer vocabulary than {TEACHER_FLAG} {teacher}: the "
                        "teacher reads the student's token ids, so both need the same tokenizer. Use the teacher's "
                        "--model (see `ftlab runs`), or a student model that shares its tokenizer.")


def plugins(options: DistillOptions, context: Any) -> Plugins | None:
    """The KL term, with the teacher loaded for it; none when alpha is 0 (the labels-only baseline)."""
    from transformers import AutoTokenizer

    from ftlab import runs

    folder = runs.run_dir(options.teacher) / "model"
    check_same_vocabulary(context.tokenizer, AutoTokenizer.from_pretrained(folder), options.teacher,
                          context.config.model)
    _warn_about_other_splits(options.teacher, context.config)
    if options.alpha == 0:
        return None
    teacher = merged(load_teacher(options.teacher))
    return Plugins(loss_terms={"distill": kl_term(teacher, options.temperature, options.alpha)})


def _warn_about_other_splits(teacher: str, config: Any) -> None:
    """A teacher split with another seed or data may have trained on this run's test rows, flattering the student."""
    from ftlab import runs

    theirs = runs.read_config(teacher)
    if (theirs.dataset, theirs.data, theirs.seed) != (config.dataset, config.data, config.seed):
        log.warning("teacher %s was trained on %s with seed %d, this run uses %s with seed %d: its training rows may "
                    "include this run's test rows", teacher, theirs.dataset or theirs.data, theirs.seed,
                    config.dataset or config.data, config.seed)


SPEC = register_method(MethodSpec(
    name="distill", config_cls=DistillOptions, apply=apply, tasks=frozenset({"classification"}),
    description="A smaller student (the teacher cut to 3 layers) learns from a finished run's soft predictions "
                "and the labels; every student weight trains.",
    default_learning_rate=1e-4, plugins=plugins, flag_aliases={"teacher": ("--teacher",)},
))
