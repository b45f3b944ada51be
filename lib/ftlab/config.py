"""Training configuration: one dataclass, a docstring per field, validated on construction, round-tripping to YAML.

Values are layered: the dataclass defaults, then a preset from `configs/presets/`, then a YAML file
(`--config`), then command-line flags. Every validation error names the flag and how to fix it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ftlab.errors import UserError
from ftlab.presets import list_presets, preset_values
from ftlab.yaml_mapping import parse_mapping

TAG_SCHEMES = ("auto", "iob1", "iob2", "bio", "bioes", "iobes", "bilou")
"""--tag-scheme values (`ftlab.data.tag_schemes` reads each; bio is iob2, iobes and bilou are bioes)."""
ADVERSARIAL = ("none", "fgm", "pgd")
"""--adversarial values (`ftlab.robustness.adversarial` implements them)."""
PRECISIONS = ("fp32", "bf16", "fp16", "auto")
"""--precision values (`ftlab.precision` maps them onto the Trainer's mixed precision)."""

LR_SCALINGS = {"none": 0.0, "sqrt": 0.5, "linear": 1.0}
"""--lr-scaling values and their exponent: lr = recommended × (B / 16) ** exponent."""
DEFAULT_DATASETS = {"ner": "wnut16", "sft": "rotten_tomatoes_instructions"}
"""The built-in dataset a task trains on when neither --dataset nor --data is given."""
LOAD_IN_BITS = (4, 8)
"""--load-in-bits values: bitsandbytes' NF4 (QLoRA's) and LLM.int8() weights."""


@dataclass
class TrainConfig:
    task: str = "classification"
    """What the model learns to do: `classification` (one label per text), `ner` (a tag per word), `multitask`
    (one encoder, a classification head per dataset of --dataset a+b) or `sft` (instruction tuning of a causal LM
    on chats, e.g. --model smollm2-135m)."""
    dataset: str | None = None
    """Name of a registered dataset (`ftlab datasets`). Defaults to `rotten_tomatoes` (`wnut16` for ner,
    `rotten_tomatoes_instructions` for sft) when --data is not given."""
    data: str | None = None
    """Path to your own file, instead of --dataset: CSV / TSV / JSONL / Parquet for classification; CoNLL (a token
    and its tag per line) or JSONL (`tokens`, `tags`) for ner; JSONL with `messages` (a chat) or `prompt` and
    `response` for sft."""
    tag_scheme: str = "auto"
    """Entity tags of an NER --data file: `iob1`, `iob2` (bio), `bioes` (iobes, bilou), or `auto` to detect it;
    converted to IOB2 for training."""
    text_col: str = "text"
    """Column of --data holding the text."""
    label_col: str = "label"
    """Column of --data holding the label."""
    model: str = "minilm"
    """A registered model name (`ftlab models`), a local folder, or a Hugging Face model id."""
    method: str = "full"
    """Fine-tuning method (`ftlab methods`)."""
    method_options: dict[str, Any] = field(default_factory=dict)
    """Options of the chosen method, e.g. `{r: 16}` for lora (flags `--lora-r 16`)."""
    preset: str = "default"
    """Batching recipe from configs/presets: `default` (dynamic padding, length-grouped batches), `seed` (the
    seeds' recipe: pad to 128, random batches) or `fast` (by device: larger batches with the learning rate scaled,
    and on a GPU bf16/fp16, padding to multiples of 8 and torch.compile)."""
    epochs: float = 3.0
    """Passes over the training split; ignored when --max-steps is set."""
    max_steps: int | None = None
    """Stop after this many optimizer steps (overrides --epochs)."""
    train_size: int | None = None
    """Use a stratified, seeded sample of this many training examples (all when unset)."""
    shots_per_class: int | None = None
    """Few-shot: train on a seeded sample of exactly this many examples of each class (k-shot); classification
    only. Combine with --max-steps, since an epoch of a few examples is only a step or two."""
    eval_size: int | None = None
    """Evaluate on a seeded sample of this many validation examples (all when unset): faster evaluations."""
    test_size: int | None = None
    """Score a seeded, stratified sample of this many test examples (all when unset): faster final scores and
    analyses, with wider confidence intervals."""
    batch_size: int | None = None
    """Training examples per optimizer step (from the preset when unset: 16)."""
    eval_batch_size: int = 64
    """Examples per batch during evaluation and prediction."""
    packing: bool = False
    """sft: put each batch's chats end to end in one row instead of padding them to the longest (position ids restart
    at every chat and attention stays within it): the same loss, no compute spent on padding."""
    max_new_tokens: int = 32
    """sft: the longest answer generated when the test split is scored (and by `ftlab predict`), in tokens."""
    learning_rate: float | None = None
    """Peak learning rate; unset means the preset's, else the method's recommended value (`ftlab methods`)."""
    weight_decay: float = 0.01
    """AdamW weight decay (not applied to biases and LayerNorm)."""
    warmup_ratio: float | None = None
    """Fraction of steps spent warming the learning rate up from zero (from the preset when unset)."""
    max_length: int | None = None
    """Longest input in tokens; longer texts are truncated (from the preset when unset: 128)."""
    padding: str | None = None
    """`dynamic` pads each batch to its longest text; `max_length` pads every text to --max-length (the seeds'
    recipe). From the preset when unset."""
    group_by_length: bool | None = None
    """Batch texts of similar length together so that little compute is spent on padding (from the preset when
    unset)."""
    pad_to_multiple_of: int | None = None
    """Round padded lengths up to a multiple of this (8 helps tensor cores on GPUs)."""
    torch_compile: bool | None = None
    """Compile the model with `torch.compile` before training: pays on a GPU for runs of more than a few hundred
    steps (the first steps compile), rarely on a CPU. From the preset when unset: off."""
    lr_scaling: str | None = None
    """How the method's recommended learning rate follows the batch size when --learning-rate is unset: `none`,
    `sqrt` (× √(B/16), as for Adam) or `linear` (× B/16), B the samples per step over all processes; the
    recommended rates were set at batch 16. From the preset when unset: none."""
    precision: str | None = None
    """Number format of the training's matrix products (weights and optimizer stay fp32): `fp32`; `bf16`
    (autocast; native on Ampere+ GPUs, emulated and ~5x slower on CPUs without bf16 units); `fp16` (CUDA only, with
    loss scaling); `auto` (bf16 where the GPU has it, else fp16 on CUDA, else fp32). From the preset when unset:
    fp32. The run records the precision that actually ran, read from the activations."""
    load_in_bits: int | None = None
    """Load the frozen pre-trained weights in 4 bits (NF4, QLoRA's recipe) or 8 bits through bitsandbytes and
    train only the method's added weights on top (--method lora or ia3). Needs a CUDA GPU and `pip install
    bitsandbytes`. Unset: the weights stay in fp32."""
    seed: int = 42
    """Seeds the data split, sampling, initialisation and shuffling."""
    save_steps: int = 100
    """Write a resumable checkpoint every N optimizer steps (and whenever a run is cancelled)."""
    eval_steps: int = 100
    """Evaluate on the validation split every N steps."""
    log_steps: int = 10
    """Log the training loss every N steps."""
    augment: str = "none"
    """On-the-fly augmentation of the training texts (classification), drawn afresh for each batch and seeded:
    `none`, or a comma-separated list of `typos`, `word-dropout`, `word-swap`, `synonyms` (Roget's thesaurus),
    `embedding-neighbours` (nearest tokens in the model's input embeddings) and `backtranslation`; each augmented
    example gets one of them, at random. Evaluation always sees the texts as they are."""
    augment_prob: float = 0.3
    """Probability that a training example is augmented each time it is batched (greater than 0, at most 1)."""
    augment_translation_models: str | None = None
    """`backtranslation`'s two translation models, comma-separated, to a pivot language and back: hub ids (need
    internet), e.g. `Helsinki-NLP/opus-mt-en-de,Helsinki-NLP/opus-mt-de-en`, or local model folders."""
    early_stopping_patience: int | None = None
    """Stop after this many evaluations without improvement of the main metric (off when unset)."""
    save_total_limit: int = 2
    """Keep at most this many checkpoints on disk (the newest)."""
    task_sampling: str = "temperature"
    """Multi-task only: which member dataset each batch comes from. `proportional` to their sizes, `temperature`
    (sizes ** (1 / --sampling-temperature): small tasks get more turns than their size) or `uniform`."""
    sampling_temperature: float = 2.0
    """For --task-sampling temperature: 1 is proportional, larger flattens towards uniform (greater than 0)."""
    sensitive_col: str | None = None
    """Metadata column of the dataset holding each example's group, e.g. `sex` on adult_text; --mitigation
    balances training between its groups, and each evaluation logs the validation rows' demographic-parity and
    equalised-odds differences between them (`eval_dp_difference`, `eval_eo_difference`)."""
    mitigation: str = "none"
    """Bias mitigation during training: `none`; `reweigh` (sample rows so that group and label are independent,
    Kamiran & Calders 2012); `dp-penalty` (the loss pays --penalty-weight per unit of demographic-parity
    difference, fairlearn's reductions as row costs, and the run ends on the evaluated checkpoint with the lowest
    (1 - accuracy) + λ · DP difference on the validation rows) or `eo-penalty` (each batch's squared
    equalised-odds gaps). Needs --sensitive-col."""
    penalty_weight: float | None = None
    """How hard `dp-penalty` / `eo-penalty` pull (0 or more; larger trades accuracy for smaller gaps). dp-penalty:
    the Lagrange multiplier on the demographic-parity difference (default 0.35; past the smallest-rate group's
    share of the data it over-corrects). eo-penalty: multiplies the squared gaps (default 1.0)."""
    adversarial: str = "none"
    """Adversarial training on the word embeddings: `none`; `fgm` (one step of size --adversarial-epsilon along
    the embedding gradient, Miyato et al. 2017); `pgd` (--adversarial-steps steps of --adversarial-alpha, kept
    within --adversarial-epsilon, Madry et al. 2018). Each step trains on the clean and the perturbed batch."""
    adversarial_epsilon: float = 0.3
    """Size (L2 norm) of the adversarial perturbation of the word-embedding matrix (greater than 0). 1.0 is the
    common recipe for BERT-base; on the small embedded model it slowed learning a lot (test accuracy 0.50 after
    120 steps, against 0.70 at 0.3 and 0.73 without)."""
    adversarial_steps: int = 3
    """PGD only: perturbation steps per training step (1 or more), each an extra forward and backward pass."""
    adversarial_alpha: float = 0.1
    """PGD only: L2 size of each perturbation step (greater than 0; at most --adversarial-epsilon is useful)."""
    name: str | None = None
    """Run name (letters, digits, '.', '_', '-'); generated when unset."""
    trust_remote_code: bool = False
    """Allow a hub model to run its own Python code. Off: only turn on for models you trust."""

    def __post_init__(self) -> None:
        _require(isinstance(self.preset, str), "--preset", f"must be a preset name, got {self.preset!r}",
                 f"use one of {', '.join(list_presets())}")
        # A preset fills only what was left unset, so explicit values (flags, config file, Python) always win.
        for key, value in preset_values(self.preset, self.task).items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        _check_types(self)
        if self.dataset is None and self.data is None:
            self.dataset = DEFAULT_DATASETS.get(self.task, "rotten_tomatoes")
        if self.dataset is not None and self.data is not None:
            raise UserError("Give either --dataset or --data, not both: --data trains on your own file.")
        _require(self.epochs > 0, "--epochs", f"must be greater than 0, got {self.epochs}", "use e.g. --epochs 3")
        _require(not self.packing or self.task == "sft", "--packing", f"packs chats, so it is for the sft task, not "
                 f"'{self.task}'", "leave it out (dynamic padding and length-grouped batches already keep padding low)")
        _require(self.shots_per_class is None or self.task == "classification", "--shots-per-class",
                 f"samples k examples per class, so it is for the classification task, not '{self.task}'",
                 "use --train-size for a smaller training set")
        for flag, value in [("--max-steps", self.max_steps), ("--train-size", self.train_size),
                            ("--shots-per-class", self.shots_per_class),
                            ("--eval-size", self.eval_size), ("--test-size", self.test_size),
                            ("--early-stopping-patience", self.early_stopping_patience),
                            ("--pad-to-multiple-of", self.pad_to_multiple_of)]:
            _require(value is None or (isinstance(value, int) and value > 0), flag,
                     f"must be a positive whole number, got {value!r}", "leave it out to use the default")
        for flag, value in [("--batch-size", self.batch_size), ("--eval-batch-size", self.eval_batch_size),
                            ("--save-steps", self.save_steps), ("--eval-steps", self.eval_steps),
                            ("--log-steps", self.log_steps), ("--max-length", self.max_length),
                            ("--save-total-limit", self.save_total_limit), ("--max-new-tokens", self.max_new_tokens)]:
            _require(isinstance(value, int) and value > 0, flag, f"must be a positive whole number, got {value!r}",
                     "e.g. 16")
        _require(self.learning_rate is None or 0 < self.learning_rate < 1, "--learning-rate",
                 f"must be between 0 and 1, got {self.learning_rate}", "e.g. --learning-rate 2e-5")
        _require(self.weight_decay >= 0, "--weight-decay", f"must be 0 or more, got {self.weight_decay}", "e.g. 0.01")
        _require(0 <= self.warmup_ratio < 1, "--warmup-ratio", f"must be in [0, 1), got {self.warmup_ratio}", "e.g. 0.06")
        _require(isinstance(self.tag_scheme, str) and self.tag_scheme.lower() in TAG_SCHEMES, "--tag-scheme",
                 f"must be one of {', '.join(TAG_SCHEMES)}, got {self.tag_scheme!r}", "use --tag-scheme auto")
        _require(self.precision in PRECISIONS, "--precision", f"must be one of {', '.join(PRECISIONS)}, got "
                 f"{self.precision!r}", "use --precision fp32, or auto to pick by the hardware")
        _require(self.load_in_bits in (None, *LOAD_IN_BITS), "--load-in-bits",
                 f"must be 4 or 8, got {self.load_in_bits!r}", "use --load-in-bits 4 for QLoRA, or leave it out")
        _require(self.lr_scaling in LR_SCALINGS, "--lr-scaling", f"must be one of {', '.join(LR_SCALINGS)}, got "
                 f"{self.lr_scaling!r}", "use --lr-scaling sqrt, or none to keep the recommended rate")
        _require(self.padding in ("dynamic", "max_length"), "--padding",
                 f"must be 'dynamic' or 'max_length', got {self.padding!r}", "use --padding dynamic")
        _require(isinstance(self.method_options, dict), "method_options", "must be a mapping of option: value",
                 "e.g. method_options: {r: 16}")
        _require(self.task_sampling in ("proportional", "temperature", "uniform"), "--task-sampling",
                 f"must be proportional, temperature or uniform, got {self.task_sampling!r}",
                 "use --task-sampling temperature")
        _require(0 < self.sampling_temperature < float("inf"), "--sampling-temperature",
                 f"must be a number greater than 0, got {self.sampling_temperature}", "e.g. --sampling-temperature 2")
        _require(self.penalty_weight is None or 0 <= self.penalty_weight < float("inf"), "--penalty-weight",
                 f"must be a number of 0 or more, got {self.penalty_weight}", "e.g. --penalty-weight 0.35")
        _require(self.adversarial in ADVERSARIAL, "--adversarial", f"must be one of {', '.join(ADVERSARIAL)}, got "
                 f"{self.adversarial!r}", "e.g. --adversarial fgm")
        for flag, value in [("--adversarial-epsilon", self.adversarial_epsilon),
                            ("--adversarial-alpha", self.adversarial_alpha)]:
            _require(0 < value < float("inf"), flag, f"must be a number greater than 0, got {value}", "e.g. 1.0")
        _require(self.adversarial_steps >= 1, "--adversarial-steps",
                 f"must be 1 or more, got {self.adversarial_steps}", "e.g. --adversarial-steps 3")
        _require(0 < self.augment_prob <= 1, "--augment-prob", f"must be greater than 0 and at most 1, got "
                 f"{self.augment_prob}", "e.g. --augment-prob 0.3")
        if self.augment != "none":
            _check_augment(self)
        if self.mitigation != "none":
            _check_mitigation(self)
        if self.early_stopping_patience and self.save_steps % self.eval_steps:
            raise UserError(
                f"--early-stopping-patience needs checkpoints at evaluation steps: --save-steps ({self.save_steps}) "
                f"must be a multiple of --eval-steps ({self.eval_steps}). Set both to the same value."
            )
        if self.name is not None:
            from ftlab.home import check_name

            check_name(self.name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(
                f"Unknown config key(s): {', '.join(unknown)}. Known keys: {', '.join(sorted(known))}."
            )
        try:
            return cls(**values)
        except TypeError as exc:  # a wrong type in a comparison, e.g. epochs: "three"
            raise UserError(f"Invalid config value: {exc}. Check the types of the values in your config.") from exc

    @classmethod
    def from_yaml(cls, text: str) -> TrainConfig:
        return cls.from_dict(parse_mapping(text, "config"))


def field_docs(cls: type | None = None) -> dict[str, str]:
    """Each field's docstring (the string under it) of a config dataclass, for `--help` and the app's form."""
    import ast
    import inspect

    try:
        body = ast.parse(inspect.getsource(cls or TrainConfig)).body[0].body  # type: ignore[attr-defined]
    except (OSError, TypeError):  # no source, e.g. a class built at run time
        return {}
    return {node.target.id: str(nxt.value.value)  # type: ignore[attr-defined]
            for node, nxt in zip(body, body[1:])
            if isinstance(node, ast.AnnAssign) and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)}


def _check_mitigation(config: TrainConfig) -> None:
    """A known --mitigation, with the --sensitive-col it needs (its values are checked once the data is loaded)."""
    from ftlab.mitigation import get_mitigation  # imports torch: only configs that ask for a mitigation pay

    get_mitigation(config.mitigation)
    if config.sensitive_col is None:
        raise UserError(f"--mitigation {config.mitigation} needs --sensitive-col, the metadata column that holds "
                        "the groups: e.g. --sensitive-col sex on adult_text. Or use --mitigation none.")
    _require(config.task == "classification", "--mitigation",
             f"works for the classification task only, not '{config.task}'", "use --mitigation none")
    if get_mitigation(config.mitigation).selection is not None and config.save_steps % config.eval_steps:
        raise UserError(
            f"--mitigation {config.mitigation} ends on the evaluated checkpoint with the best validation score, so it "
            f"needs a checkpoint at each evaluation: --save-steps ({config.save_steps}) must be a multiple of "
            f"--eval-steps ({config.eval_steps}). Set both to the same value."
        )


def _check_augment(config: TrainConfig) -> None:
    """Known --augment names, a classification task, and what each augmenter needs (imports torch: only configs
    that augment pay)."""
    from ftlab.augment import check_config

    check_config(config)


def _require(ok: bool, flag: str, problem: str, fix: str) -> None:
    if not ok:
        raise UserError(f"{flag} {problem}; {fix}.")


_TYPES: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,)}
_KINDS = {"str": "a string", "int": "a whole number", "float": "a number", "bool": "true or false"}


def _check_types(config: TrainConfig) -> None:
    """A config file can hold any YAML value: name the field whose value has the wrong type (`epochs: three`)."""
    for f in fields(config):
        base, _, rest = str(f.type).partition(" | ")
        value = getattr(config, f.name)
        if base not in _TYPES or (value is None and "None" in rest):
            continue
        if base == "float" and isinstance(value, str):  # YAML 1.1 reads `2e-5` (no dot) as a string
            try:
                value = float(value)
                setattr(config, f.name, value)
            except ValueError:
                pass
        if not isinstance(value, _TYPES[base]) or (base != "bool" and isinstance(value, bool)):
            fix = "or leave it out" if f.default is None else f"e.g. {f.name}: {str(f.default).lower() if base == 'bool' else f.default}"
            raise UserError(f"--{f.name.replace('_', '-')} (config key {f.name}) must be {_KINDS[base]}, got "
                            f"{value!r}; fix the value, {fix}.")


def load_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"Config file {path} does not exist or is not a file. Pass a YAML file, e.g. --config configs/lora_rotten_tomatoes.yaml.")
    return parse_mapping(path.read_text(encoding="utf-8", errors="replace"), f"config {path}")


def resolve_config(file_values: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Layer preset < config file < overrides into one validated config (the preset fills what is left unset)."""
    file_values = dict(file_values or {})
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    for values in (file_values, overrides):
        _require(isinstance(values.get("method_options") or {}, dict), "method_options",
                 f"must be a mapping of option: value, got {values.get('method_options')!r}",
                 "e.g. method_options: {r: 16}")
    merged = {**file_values, **overrides}
    merged["method_options"] = {**(file_values.get("method_options") or {}), **(overrides.get("method_options") or {})}
    return TrainConfig.from_dict(merged)
