"""`ftlab export RUN OUT`: a trained run as a folder that plain `transformers` (and `peft`) load, outside ftlab.

The layout follows what the method trained (decided from the model, not the method's name):

- **merged** (full, freeze, BitFit, and every peft tuner that merges: LoRA, IA3): one whole model as safetensors;
  `transformers.pipeline("text-classification", model=OUT)` loads it.
- **peft_adapter** (prompt tuning, P-tuning: virtual tokens cannot be folded into weights): `base_model/` + peft's
  `adapter/`; plain `peft` loads it, and the pipeline takes the loaded model.
- **ftlab_adapter** (prefix tuning, bottleneck adapters: hand-written modules no library knows): `base_model/` + the
  trained tensors in `adapter/`; `ftlab.serve.load_export(OUT)` rebuilds the model, which the pipeline then takes.
- **int8** (`--int8`, merged layouts only): `torch.save` of the dynamically quantized state dict (safetensors cannot
  hold packed int8 weights), loaded with `torch.load(weights_only=True)` by `load_export`.

Every export also holds the tokenizer, the label map (id2label/label2id in config.json), a README.md that shows the
exact loading code, and `ftlab_export.json` (run id, method, test metrics, layout).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftlab.errors import UserError

if TYPE_CHECKING:
    from torch import nn

EXPORT_FILE = "ftlab_export.json"
INT8_FILE = "model_int8.pt"
PIPELINE_TASKS = {"classification": "text-classification", "ner": "token-classification", "sft": "text-generation"}
"""ftlab task -> the `transformers.pipeline` task an export is for; other tasks are refused."""


def check_destination(out: Path) -> None:
    """OUT must be new (or an empty folder) in a folder that exists: an export never overwrites anything."""
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file; an export is a folder. Pick a path that does not exist yet, e.g. "
                        f"{out.with_name(out.name + '-export')}.")
    if out.is_dir() and any(out.iterdir()):
        raise UserError(f"{out} already exists and is not empty; an export never overwrites files. Pick a new "
                        f"folder, e.g. {out.with_name(out.name + '-2')}, or empty it first.")
    if not out.parent.is_dir():
        raise UserError(f"The folder {out.parent} (where {out.name} would go) does not exist; create it first or "
                        "pick another OUT.")


def test_metrics(run_id: str) -> dict[str, float]:
    """The run's metrics on its test split, without the `test_` prefix (empty if it was not tested)."""
    from ftlab.records import summary

    return {k[len("test_"):]: float(v) for k, v in summary(run_id)["metrics"].items() if k.startswith("test_")}


def quantized_copy(model: nn.Module) -> nn.Module:
    """A dynamically int8-quantized copy of a run's model (LoRA/IA3 merged first), for CPU inference."""
    from ftlab.compress.quantize import quantize_dynamic_int8

    return quantize_dynamic_int8(model)


def standalone_copy(model: nn.Module) -> tuple[nn.Module, bool]:
    """(copy, merged): a peft model's adapter folded into its weights where peft can (LoRA, IA3), else an unmerged
    copy; a plain model is returned as a copy and counts as merged. The run's cached model is never touched."""
    from peft import PeftModel

    if not isinstance(model, PeftModel):
        return copy.deepcopy(model), True
    if model.peft_config[model.active_adapter].is_prompt_learning:
        return model, False  # not merged and not changed: no copy needed
    try:
        return copy.deepcopy(model).merge_and_unload(), True
    except (ValueError, NotImplementedError, AttributeError):
        return model, False  # a tuner peft cannot merge: exported as base + adapter


def export_run(run_id: str, out: str | Path, *, int8: bool = False) -> dict[str, Any]:
    """Write run `run_id` to the new folder `out`; returns what `ftlab_export.json` holds, plus `path`."""
    from ftlab.evaluate import load_trained
    from ftlab.methods import get_method
    from ftlab.runs import read_config, read_state

    read_state(run_id)  # an unknown run is named before the folder is looked at
    out = Path(out).expanduser().absolute()
    check_destination(out)
    config = read_config(run_id)
    pipeline_task = PIPELINE_TASKS.get(config.task)
    if pipeline_task is None:
        raise UserError(f"Run '{run_id}' is a {config.task} run: no transformers pipeline reads its heads. Serve it "
                        f"with `ftlab serve {run_id}` instead.")
    model, tokenizer, config, labels, task = load_trained(run_id)
    if get_method(config.method).injects_modules:
        standalone, layout = model, "ftlab_adapter"
    else:
        standalone, merged = standalone_copy(model)
        layout = ("int8" if int8 else "merged") if merged else "peft_adapter"
    if int8 and layout != "int8":
        raise UserError(f"--int8 exports a merged model, and --method {config.method} cannot be merged into the "
                        f"weights. Export without --int8, or serve it quantized: ftlab serve {run_id} --int8.")
    info = {"format": 1, "run_id": run_id, "method": config.method, "task": config.task, "model": config.model,
            "labels": labels, "test_metrics": test_metrics(run_id), "layout": layout, "pipeline_task": pipeline_task,
            "exported": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "config": config.to_dict()}
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    partial.mkdir()
    try:
        if layout in ("merged", "int8"):
            _write_whole(standalone, tokenizer, partial, int8=int8)
        else:
            _write_base_and_adapter(standalone, tokenizer, config, labels, task, partial, out, layout)
        info["how"] = HOW[layout]
        (partial / EXPORT_FILE).write_text(json.dumps(info, indent=2))
        (partial / "README.md").write_text(readme(info, out))
        if out.is_dir():
            out.rmdir()  # empty (checked above); renaming onto it makes the export appear whole or not at all
        partial.rename(out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return {**info, "path": str(out)}


def _write_whole(model: nn.Module, tokenizer: Any, folder: Path, *, int8: bool) -> None:
    tokenizer.save_pretrained(folder)
    if not int8:
        model.save_pretrained(folder)  # safetensors
        return
    import torch

    model.config.save_pretrained(folder)
    quantized = quantized_copy(model)
    # Held until saved: an int8 embedding's state_dict tensor borrows its row scales from the module's packed
    # weight, so saving the state of a model already freed wrote scales from released memory (garbage, now and then).
    torch.save(quantized.state_dict(), folder / INT8_FILE)


def _write_base_and_adapter(model: nn.Module, tokenizer: Any, config: Any, labels: list[str], task: Any,
                            folder: Path, final: Path, layout: str) -> None:
    from ftlab.model_files import save_trained_subset

    base = task.load_model(config.model, labels, trust_remote_code=config.trust_remote_code)
    base.save_pretrained(folder / "base_model")
    tokenizer.save_pretrained(folder / "base_model")
    if layout == "ftlab_adapter":
        save_trained_subset(model, folder / "adapter")
        return
    model.save_pretrained(folder / "adapter")
    adapter_config = folder / "adapter" / "adapter_config.json"
    values = json.loads(adapter_config.read_text())
    values["base_model_name_or_path"] = str(final / "base_model")  # where the base will be, not the run's cache
    adapter_config.write_text(json.dumps(values, indent=2))


def load_export(folder: str | Path) -> nn.Module:
    """The model of an export folder, in any layout, ready for `transformers.pipeline(task, model=..., tokenizer=)`.

    Needed for the ftlab_adapter and int8 layouts; the others load with plain transformers/peft (see README.md)."""
    from ftlab.config import TrainConfig
    from ftlab.model_files import load_model_from
    from ftlab.tasks import get_task

    folder = Path(folder).expanduser()
    if not (folder / EXPORT_FILE).is_file():
        raise UserError(f"{folder} has no {EXPORT_FILE}, so it is not an `ftlab export` folder. Pass the OUT folder "
                        "that `ftlab export RUN OUT` wrote.")
    info = json.loads((folder / EXPORT_FILE).read_text())
    task = get_task(info["task"])
    if info["layout"] == "merged":
        model = task.load_model(str(folder), info["labels"])
    elif info["layout"] == "int8":
        model = _load_int8(folder, info["pipeline_task"])
    else:
        config = TrainConfig.from_dict({**info["config"], "model": str(folder / "base_model")})
        model = load_model_from(folder / "adapter", config, info["labels"], task)
    return model.eval()


def _load_int8(folder: Path, pipeline_task: str) -> nn.Module:
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoModelForTokenClassification

    from ftlab.compress.quantize import quantize_dynamic_int8

    auto = {"text-classification": AutoModelForSequenceClassification,
            "token-classification": AutoModelForTokenClassification}[pipeline_task]
    # The quantized modules must exist before their packed weights can be loaded into them.
    model = quantize_dynamic_int8(auto.from_config(AutoConfig.from_pretrained(folder)).eval())
    model.load_state_dict(torch.load(folder / INT8_FILE, weights_only=True))
    return model


HOW = {
    "merged": "whole model with every trained change merged into its weights (safetensors)",
    "peft_adapter": "base model + peft adapter (virtual tokens cannot be merged into weights)",
    "ftlab_adapter": "base model + ftlab's trained tensors (hand-written modules: ftlab rebuilds them)",
    "int8": "dynamically int8-quantized state dict (torch.save; load with weights_only=True)",
}

_LOAD = {
    "merged": 'from transformers import pipeline\n\nclassify = pipeline("{task}", model="{out}")',
    "peft_adapter": (
        "from peft import PeftModel\nfrom transformers import {auto}, AutoTokenizer, pipeline\n\n"
        'base = {auto}.from_pretrained("{out}/base_model")\n'
        'model = PeftModel.from_pretrained(base, "{out}/adapter")\n'
        'classify = pipeline("{task}", model=model, tokenizer=AutoTokenizer.from_pretrained("{out}/base_model"))'),
    "ftlab_adapter": (
        "from transformers import AutoTokenizer, pipeline\nfrom ftlab.serve import load_export  # ftlab is needed\n\n"
        'classify = pipeline("{task}", model=load_export("{out}"), '
        'tokenizer=AutoTokenizer.from_pretrained("{out}/base_model"))'),
    "int8": (
        "from transformers import AutoTokenizer, pipeline\nfrom ftlab.serve import load_export  # torch.load(..., "
        "weights_only=True) inside\n\n"
        'classify = pipeline("{task}", model=load_export("{out}"), tokenizer=AutoTokenizer.from_pretrained("{out}"))'),
}

_WHY = {
    "merged": "Plain transformers loads this folder; ftlab is not needed.",
    "peft_adapter": ("Prompt and P-tuning learn virtual tokens that are prepended to the input, so they cannot be merged "
                     "into the weights, and `pipeline(model=\"OUT/adapter\")` refuses prompt-learning adapters: load "
                     "the base and the adapter with peft, then hand the model to the pipeline. The base model's "
                     "classifier is untrained; the trained one is in the adapter (peft's modules_to_save). ftlab is "
                     "not needed."),
    "ftlab_adapter": ("Prefix tuning and bottleneck adapters are modules ftlab wires into the model by hand (no library "
                      "hosts them for this model), so **ftlab is needed to load this folder**: `load_export` loads "
                      "`base_model/`, re-applies the method and fills its trained tensors from "
                      "`adapter/trained_weights.safetensors`. `base_model/` alone is the untrained base."),
    "int8": ("Packed int8 weights cannot be stored as safetensors, so they are a `torch.save`d state dict; "
             "`load_export` rebuilds the model from config.json, quantizes it the same way, and loads the file with "
             "`torch.load(..., weights_only=True)` (no code from the file runs). Dynamic int8 runs on CPUs."),
}


def readme(info: dict[str, Any], out: Path) -> str:
    auto = ("AutoModelForSequenceClassification" if info["pipeline_task"] == "text-classification"
            else "AutoModelForTokenClassification")
    code = _LOAD[info["layout"]].format(task=info["pipeline_task"], out=out, auto=auto)
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in info["test_metrics"].items()
                        if k in ("accuracy", "macro_f1", "micro_f1", "loss")) or "not tested"
    return (f"# ftlab export of run `{info['run_id']}`\n\n"
            f"{info['method']} fine-tune of `{info['model']}` for {info['task']}; labels: "
            f"{', '.join(info['labels'])}. Test: {metrics}.\n\n"
            f"Layout: **{info['layout']}**, {info['how']}.\n\n{_WHY[info['layout']]}\n\n"
            f"```python\n{code}\n\nprint(classify(\"A warm, funny film.\"))\n```\n\n"
            f"`{EXPORT_FILE}` holds the run id, method, test metrics and training config.\n")
