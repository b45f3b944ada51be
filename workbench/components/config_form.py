"""The Train page's form, built from `TrainConfig` and each method's options dataclass (not from a list of its own).

Each field's widget follows its type, its default and its docstring (`field_docs`), so a new config field or
method option appears here without a change. Choices that change what the form shows — the data source and its
columns, the method — sit above the `st.form`; everything else is inside it, so typing reruns nothing until
"Launch". Every check is the library's: a mistake comes back as a `UserError` and is shown as one inline message.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from ftlab import jobs, uploads
from ftlab.config import TrainConfig, field_docs, resolve_config
from ftlab.presets import list_presets
from ftlab.data import list_datasets
from ftlab.data.files import SUFFIXES
from ftlab.errors import UserError
from ftlab.methods import MethodSpec, get_method, list_methods
from ftlab.models import list_models
from ftlab.tasks import list_tasks

UP_FRONT = ("model", "epochs", "max_steps", "learning_rate", "batch_size", "seed", "name")
"""Fields shown first; every other field the form owns goes in the Advanced expander."""
ASKED_ABOVE = ("task", "dataset", "data", "text_col", "label_col", "method", "method_options",
               "augment", "augment_prob", "augment_translation_models")  # the last three: components/augment_choice.py
"""Fields the data and method choices above the form set: a registered dataset brings its task."""
"""Fields chosen above the form, because they change what the form shows."""
REGISTERED, UPLOAD = "A registered dataset", "My own table"
_UNSET = {"learning_rate": "auto"}
"""Words that mean "unset" in a text field, besides leaving it empty."""


@dataclass
class DataChoice:
    values: dict[str, Any]
    """`dataset` with its `task`, or `data` with `text_col` and `label_col` (a classification table)."""
    error: str | None = None


@dataclass
class FormResult:
    submitted: bool
    method: str
    values: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    """Label of a field -> what is wrong with its value (shown under the field)."""
    gpu: int | None = None
    nproc: int = 1
    """Data-parallel processes of the job (torchrun; `ftlab train --queue --nproc N`)."""


def _choices() -> dict[str, list[Any]]:
    """Fields with a closed set of values; `None` first means "unset" is a choice."""
    from ftlab.config import ADVERSARIAL, LOAD_IN_BITS, LR_SCALINGS, PRECISIONS

    return {"task": list_tasks(), "preset": list_presets(), "padding": [None, "dynamic", "max_length"],
            "adversarial": list(ADVERSARIAL), "task_sampling": ["temperature", "proportional", "uniform"],
            "precision": [None, *PRECISIONS], "lr_scaling": [None, *LR_SCALINGS],
            "load_in_bits": [None, *LOAD_IN_BITS]}


# -- the data source (above the form) ------------------------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=32)
def _table_columns(path: str) -> tuple[list[str], pd.DataFrame]:
    return uploads.table_columns(path)  # an upload's name holds its content hash, so the path is a sound key


def _multitask_choice(names: list[str]) -> DataChoice:
    chosen = st.multiselect("Datasets", names, default=names[:2], key="train.members",
                            help="Each dataset keeps its own labels and head; batches take turns between them "
                                 "(--task-sampling, under Advanced).")
    if len(chosen) < 2:
        return DataChoice({}, "Choose two or more datasets for multi-task training, or switch the toggle off.")
    st.caption(f"`--task multitask --dataset {'+'.join(chosen)}`: per-dataset scores are logged at every evaluation.")
    return DataChoice({"dataset": "+".join(chosen), "task": "multitask"})


@st.cache_data(show_spinner=False, max_entries=32)
def _inspect(path: str, text_col: str | None, label_col: str | None) -> uploads.TablePreview:
    return uploads.inspect_table(path, text_col, label_col)


def data_source() -> DataChoice:
    """A registered dataset, or an uploaded table with column pickers, its first rows and its labels."""
    docs = field_docs(TrainConfig)
    source = st.radio("Data", [REGISTERED, UPLOAD], horizontal=True, key="train.source")
    if source == REGISTERED:
        specs = {spec.name: spec for spec in list_datasets()}
        if st.toggle("Several datasets at once (multi-task: one encoder, a head per dataset)", key="train.multitask"):
            return _multitask_choice([name for name, spec in specs.items() if spec.task == "classification"])
        names = list(specs)
        default = "rotten_tomatoes" if "rotten_tomatoes" in specs else names[0]
        name = st.selectbox("Dataset", names, index=names.index(default), help=docs["dataset"], key="train.dataset")
        st.caption(f"{specs[name].description} (task: {specs[name].task})")
        return DataChoice({"dataset": name, "task": specs[name].task})
    file = st.file_uploader("Table", type=[s.lstrip(".") for s in SUFFIXES], key="train.upload",
                            help=f"A classification table (CSV, TSV, JSON lines or Parquet), up to {uploads.MAX_UPLOAD_MB} "
                                 "MB; kept in the workbench home. NER files (CoNLL, JSONL of tokens and tags) train "
                                 "from the command line for now: `ftlab train --task ner --data FILE`.")
    if file is None:
        return DataChoice({}, "No table uploaded yet: upload a CSV, TSV, JSON lines or Parquet file, or choose "
                              f"'{REGISTERED}' above.")
    try:
        path = _saved_upload(file)
        columns, head = _table_columns(str(path))
    except UserError as exc:
        return _failed(DataChoice({}), exc, file)
    left, right = st.columns(2)
    # Keyed by the file, so a new upload with other columns starts with fresh pickers.
    text_col = left.selectbox("Text column", columns, index=_index(columns, "text"), help=docs["text_col"],
                              placeholder="Choose the column with the texts", key=f"train.text_col.{path.name}")
    label_col = right.selectbox("Label column", columns, index=_index(columns, "label"), help=docs["label_col"],
                                placeholder="Choose the column with the labels", key=f"train.label_col.{path.name}")
    st.caption(f"First rows of {file.name}")
    st.dataframe(head, hide_index=True)
    values = {"data": str(path), "text_col": text_col, "label_col": label_col, "task": "classification"}
    try:
        preview = _inspect(str(path), text_col, label_col)
    except UserError as exc:
        return _failed(DataChoice(values), exc, file)
    st.caption(f"{preview.rows} rows, {len(preview.label_counts)} classes")
    st.dataframe(preview.label_counts, hide_index=True,
                 column_config={"share": st.column_config.ProgressColumn("share", min_value=0, max_value=1)})
    return DataChoice(values)


def _saved_upload(file: UploadedFile) -> Path:
    """Save each uploaded file once per session (a rerun hands the same file back)."""
    saved = st.session_state.setdefault("train.saved_uploads", {})
    if file.file_id not in saved:
        saved[file.file_id] = uploads.save_upload(file.name, file.getvalue())
    return saved[file.file_id]


def _failed(choice: DataChoice, exc: UserError, file: UploadedFile) -> DataChoice:
    """Show the problem inline, naming the file as the user knows it rather than its saved copy."""
    saved = st.session_state["train.saved_uploads"].get(file.file_id)
    message = str(exc)
    if saved is not None:
        message = message.replace(str(saved), file.name).replace(saved.name, file.name)
    st.error(message)
    choice.error = message
    return choice


def _index(options: list[str], wanted: str) -> int | None:
    return options.index(wanted) if wanted in options else None


# -- the method (above the form: its options are fields of the form) ------------------------------------------

def method_choice() -> MethodSpec:
    names = [spec.name for spec in list_methods()]
    default = TrainConfig.method  # the dataclass default
    name = st.selectbox("Method", names, index=names.index(default), help=field_docs(TrainConfig)["method"],
                        key="train.method")
    spec = get_method(name)
    st.caption(f"{spec.description} Default learning rate: {spec.default_learning_rate:g}.")
    return spec


# -- the form -------------------------------------------------------------------------------------------------

def train_form(method: MethodSpec, *, gpus: int, task: str | None = None) -> FormResult:
    """Every `TrainConfig` field not asked above, the method's options, and a GPU choice where there are GPUs;
    the model defaults to the first registered model for `task` (the chosen dataset's)."""
    config_fields = {f.name: f for f in dataclasses.fields(TrainConfig) if f.name not in ASKED_ABOVE}
    docs = field_docs(TrainConfig)
    docs["learning_rate"] += (f" Leave empty or type 'auto' for the method's default "
                              f"({method.default_learning_rate:g} for {method.name}), or the preset's if it sets one.")
    result = FormResult(submitted=False, method=method.name)
    with st.form("train.form", border=True):
        grid = st.columns(3)
        for n, name in enumerate(UP_FRONT):
            with grid[n % 3]:
                # The model's widget is keyed by the task, so choosing an sft dataset brings a causal LM.
                key = f"train.model.{task}" if name == "model" and task not in (None, "classification") else f"train.{name}"
                _ask(result, result.values, config_fields[name], docs, key=key, task=task)
        option_fields = dataclasses.fields(method.config_cls)
        if option_fields:
            st.markdown(f"**Options of {method.name}**")
            option_docs = field_docs(method.config_cls)
            grid = st.columns(3)
            for n, option in enumerate(option_fields):
                with grid[n % 3]:
                    _ask(result, result.options, option, option_docs, key=f"train.opt.{method.name}.{option.name}",
                         flag=method.flag(option.name), only_changed=True)
        if gpus > 0:
            choice = st.selectbox("GPU", ["Any", *range(gpus)], help="Any: the next free GPU.", key="train.gpu")
            result.gpu = None if choice == "Any" else int(choice)
        result.nproc = int(st.number_input(
            "Processes", min_value=1, max_value=64, value=1, step=1, key="train.nproc",
            help="Data-parallel training (DDP): N processes each train on every N-th batch and average their "
                 "gradients, so one step sees N x batch size examples. A GPU each where there are GPUs, else a CPU "
                 "core each. (`ftlab train --queue --nproc N`)"))
        with st.expander("Advanced"):
            grid = st.columns(3)
            rest = [f for name, f in config_fields.items() if name not in UP_FRONT]
            for n, config_field in enumerate(rest):
                with grid[n % 3]:
                    _ask(result, result.values, config_field, docs, key=f"train.{config_field.name}")
        result.submitted = st.form_submit_button("Launch", type="primary")
    return result


def _ask(result: FormResult, into: dict[str, Any], f: dataclasses.Field, docs: dict[str, str], *, key: str,
         flag: str | None = None, only_changed: bool = False, task: str | None = None) -> None:
    """Show one field's widget; put its value in `into`, or an inline error in `result.errors`."""
    flag = flag or f"--{f.name.replace('_', '-')}"
    label = "Run name" if f.name == "name" else f.name.replace("_", " ").capitalize()
    default = _defaults_of(f)
    if f.name == "model" and task is not None:
        default = next((spec.name for spec in list_models() if task in spec.tasks), default)
    try:
        value = _widget(f, label, default, help=f"{docs.get(f.name, '')} (`{flag}`)", key=key, flag=flag)
    except UserError as exc:
        st.error(str(exc))
        result.errors[label] = str(exc)
        return
    if not (only_changed and value == default):
        into[f.name] = value


def _widget(f: dataclasses.Field, label: str, default: Any, *, help: str, key: str, flag: str) -> Any:
    """The widget for a field's type: `int`, `float`, `bool`, `str`, optional (`| None`: empty means unset) or a
    list; closed choices become a select box."""
    base, optional = _base_type(f)
    choices = _choices().get(f.name) or ([None, True, False] if base == "bool" and optional else None)
    if f.name == "model":  # a registered name, or any local folder or hub id typed in
        names = [spec.name for spec in list_models()]
        return st.selectbox(label, names, index=_index(names, default), accept_new_options=True, help=help, key=key)
    if choices is not None:
        shown = {None: "unset", True: "on", False: "off"}
        return st.selectbox(label, choices, index=choices.index(default), help=help, key=key,
                            format_func=lambda c: shown.get(c, str(c)) if c is None or isinstance(c, bool) else str(c))
    if base == "bool" and not optional:
        return st.checkbox(label, value=default, help=help, key=key)
    if base == "int":
        return st.number_input(label, value=default, step=1, help=help, key=key,
                               placeholder="unset" if optional else None)
    if base == "float" and not optional:
        return st.number_input(label, value=float(default), step=1.0 if float(default).is_integer() else None,
                               format="%g", help=help, key=key)
    text = st.text_input(label, value="" if default is None else str(default), help=help, key=key,
                         placeholder=_UNSET.get(f.name, "unset"))
    return _parse_text(text, base, f.name, flag)


def _parse_text(text: str, base: str, name: str, flag: str) -> Any:
    """Text typed for an optional number, a string or a list: empty (or 'auto') is unset."""
    text = text.strip()
    if text == "" or text.lower() == _UNSET.get(name):
        return None
    if base == "float":
        try:
            return float(text)
        except ValueError:
            unset = "leave it empty" + (f" or type '{_UNSET[name]}'" if name in _UNSET else "")
            raise UserError(f"{flag} must be a number like 0.001 or 2e-5, got {text!r}; {unset} to use the "
                            "default.") from None
    if base.startswith("list["):  # as on the command line: "query, value" is a list, one word is a string
        return [part.strip() for part in text.split(",") if part.strip()] if "," in text else text
    return text


def _base_type(f: dataclasses.Field) -> tuple[str, bool]:
    """('int', True) for `int | None`; annotations are strings (`from __future__ import annotations`)."""
    parts = [part.strip() for part in str(f.type).split("|")]
    return parts[0], "None" in parts[1:]


def _defaults_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else None


# -- launch and the queue -------------------------------------------------------------------------------------

def build_config(data: DataChoice, form: FormResult, extra: dict[str, Any] | None = None) -> TrainConfig:
    """The validated config, or a `UserError` naming the first thing to fix. `extra`: values chosen above the form
    besides the data (the augmentation)."""
    if data.error:
        raise UserError(data.error)
    if form.errors:
        raise UserError(f"Not launched: fix the {', '.join(form.errors).lower()} above.")
    return resolve_config({}, {**form.values, **(extra or {}), **data.values, "method": form.method,
                               "method_options": form.options})


def launch(data: DataChoice, form: FormResult, extra: dict[str, Any] | None = None) -> str | None:
    """Queue the run as a job; on a mistake show it inline and start nothing. Returns the run id."""
    try:
        run_id = jobs.submit(build_config(data, form, extra), gpu=form.gpu, nproc=form.nproc)
    except UserError as exc:
        st.session_state.pop("train.launched", None)
        st.error(str(exc))
        return None
    st.session_state["train.launched"] = run_id
    return run_id


def launched_message() -> None:
    """The last launch of this session, with a link to follow it (kept across reruns until the next launch)."""
    run_id = st.session_state.get("train.launched")
    if run_id:
        st.success(f"Launched run {run_id}: it trains in the background, even if you close this page.")
        st.page_link("views/run.py", label=f"Follow {run_id}", icon=":material/monitoring:", query_params={"run": run_id})
