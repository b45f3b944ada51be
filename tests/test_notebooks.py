"""The teaching notebooks: every notebook in notebooks/ runs top to bottom, on shrunk budgets, without error.

The kernel is the interpreter running the tests (a kernelspec written to a temporary JUPYTER_PATH), so the
notebook sees the same ftlab and packages as the tests, whatever `python` is first on PATH. Two kernels run side by
side (see KERNELS_AT_ONCE); each notebook's test waits for its own.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import make_home

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))

# Budgets the notebooks read in their `parameters` cell: each notebook takes under a minute on 2 idle CPU cores
# (01 about 30 s, 15 about 50 s, 16 about 40 s; about twice that when another CPU-heavy job shares them; 10 took
# 50 to 100 s while a CI run shared the cores, not yet timed on idle ones).
SMALL_BUDGETS = {
    "FTLAB_NB_MAX_STEPS": "12",
    "FTLAB_NB_TRAIN_SIZE": "64",
    "FTLAB_NB_EVAL_SIZE": "32",
    "FTLAB_NB_MAX_LENGTH": "32",
    "FTLAB_NB_EXPLAIN_BUDGET": "small",  # notebook 15: 60 SHAP evaluations, 100 LIME samples, 8 IG steps, 20 texts
    "FTLAB_NB_TEST_SIZE": "400",  # notebook 16: score and analyse 400 of adult_text's 4,886 test rows (10: all 240)
    "FTLAB_NB_ROBUSTNESS_SIZE": "100",  # notebooks 07, 08: attack 100 of the 400 scored test reviews per run, attack
    "FTLAB_NB_PGD_STEPS": "1",  # notebook 07: K, the perturbation steps of each PGD training step
    "FTLAB_NB_FEWSHOT_KS": "4,8",  # notebook 09: k examples per class on the learning curve
    "FTLAB_NB_FEWSHOT_SEEDS": "0,1",  # notebook 09: seeds per k (2: the least that has a spread)
    "FTLAB_NB_FEWSHOT_METHODS": "full,lora",  # notebook 09: methods on the curve
    "FTLAB_NB_COMPRESS_FINETUNE_STEPS": "4",  # notebook 12: fine-tuning steps after pruning
    "FTLAB_NB_LATENCY_ROUNDS": "1",  # notebook 12: timed rounds over 32 test reviews, every model in each
    "FTLAB_NB_DDP_STEPS": "4",  # notebook 13: steps of its 2-process (torchrun) run
    "FTLAB_NB_SFT_STEPS": "4",  # notebook 17: LoRA steps of its instruction-tuning run (8 chats per step)
    "FTLAB_NB_SFT_EVAL_SIZE": "8",  # notebook 17: validation chats scored after training
    "FTLAB_NB_SFT_TEST_SIZE": "8",  # notebook 17: test instructions scored (and answered) before and after
    "FTLAB_NB_SFT_NEW_TOKENS": "8",  # notebook 17: longest generated answer, in tokens
}

# What each notebook must have printed: strings of the output its lesson is about.
EXPECTED_OUTPUTS = {
    "01_full_fine_tuning.ipynb": ["precision", "recall"],  # the classification report
    "02_freezing_and_bitfit.ipynb": ["trainable parameters by block", "tensors changed outside the biases: 0",
                                     "tensors changed outside the top 2 layers: 0", "attention.self.key.bias",
                                     "trained_mb"],  # where each method trains, what changed, the comparison
    "03_lora.ipynb": ["logits(LoRA at init) - logits(pre-trained)| = 0.0", "gradient of A is exactly zero: True",
                      "highest rank of any ΔW", "merged model: BertForSequenceClassification", "model_mb"],
    "04_prompt_and_prefix_tuning.ipynb": ["the prompt P -> first changes the input embeddings",  # where each acts
                                          *(f"keys+values of layer {i} -> first changes the layer {i} output"
                                            for i in range(6)),
                                          "attention on the virtual tokens", "nearest words", "trained_mb"],
    "05_adapters.ipynb": ["output.dense → OUTPUT.ADAPTER_FEED_FORWARD → output.LayerNorm",
                          "attention.output.dense → ATTENTION.OUTPUT.ADAPTER_ATTENTION → attention.output.LayerNorm",
                          "max |logits(adapters at init) - logits(pre-trained)| = 0.0", "added / ‖h‖", "trained_mb"],
    "06_multi_task.ipynb": ["heads (label rows of the classifier)", "|gradient| per classifier row",
                            "multi - single (accuracy)", "rotten_tomatoes:fresh", "both tasks"],
    "09_few_shot.ipynb": ["is more than the training split holds", "test accuracy across seeds", "range (max - min)",
                          "seeds won", "accuracy std over seeds"],  # k too large refused; the curve, its spread
    "11_distillation.ipynb": ["|grad| of T²·KL", "num_hidden_layers", "loss_distill, first and last logged",
                              "agreement_with_teacher", "latency_ms_batch32", "speed-up"],  # T², the cut, the table
    "10_named_entity_recognition.ipynb": ["B-person", "-100 (ignored)",  # the tag maps, the label alignment
                                          "micro avg", "entity micro-F1", "start"],  # seqeval's report, offsets
    "15_explaining_predictions.ipynb": ["additivity", "comprehensiveness", "sufficiency", "spearman",
                                        "top_k_overlap", "global view over"],
    "07_adversarial_training.ipynb": ["loss_adversarial", "attacked_accuracy", "flipped", "full + fgm",
                                      "full + pgd", "forward+backward passes per step"],
    "16_fairness_and_error_analysis.ipynb": ["demographic_parity_difference", "equalized_odds_difference",
                                             "Spouse", "candidate slices tested", "ECE", "dp-penalty", "reweigh"],
    "14_cost_and_value.ipynb": ["compute_backward_params", "2·N·T + 2·N_back·T + 2·N_train·T = 6.0", "ours / seeds'",
                                "× real tokens / B·D", "on the frontier of quality against each cost"],
    "13_mixed_precision_and_distributed.ipynb": ["epsilon (1 -> next)", "(the update is lost)", "(recovered)",
                                                 "refused: --precision fp16 needs a CUDA GPU", "recorded precision",
                                                 "bf16 autocast  output of", "bf16 step / fp32 step",
                                                 "JSON results printed: 1",
                                                 "shards disjoint: True", "replicas identical: True"],
    "12_pruning_and_quantization.ipynb": ["sparsity per layer type", "pruned weights still zero after fine-tuning: "
                                          "True", "per-channel", "QuantizedEmbedding", "DynamicQuantizedLinear",
                                          "speedup_b32", "agreement", "bitsandbytes"],
    "17_instruction_tuning_a_small_llm.ipynb": ["<|im_start|>assistant",  # the chat template
                                                "'Paris<|im_end|>\\nRome<|im_end|>\\n'", "learned tokens:",  # the mask
                                                "q_proj", "test perplexity",  # peft's targets, the run
                                                "exact_match", "fine-tuned:"],  # before/after, generate_for_run
    "08_data_augmentation.ipynb": ["word-dropout", "words have synonyms", "same seed, same batch: True",
                                   "needs internet access", "accuracy with typos", "95% interval"],
}


def _outputs_text(nb) -> str:
    """Everything the executed notebook printed or displayed as text."""
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output.get("text", ""))
            elif "data" in output:
                parts.append(str(output["data"].get("text/plain", "")))
                parts.append(str(output["data"].get("text/html", "")))
    return "\n".join(parts)


LONGEST_FIRST = ["12_pruning_and_quantization.ipynb", "07_adversarial_training.ipynb", "09_few_shot.ipynb",
                 "17_instruction_tuning_a_small_llm.ipynb", "13_mixed_precision_and_distributed.ipynb"]
"""Started first, so that the two kernels finish together rather than one waiting on a long notebook at the end."""
KERNELS_AT_ONCE = 2
"""Notebooks executed side by side, each kernel on one torch thread: a kernel spends much of its time starting,
importing and writing runs, which overlaps with the other's training (722 s -> 507 s for all 17 on 2 cores)."""


@dataclass
class Executed:
    notebook: Any
    runs: list[str]
    """The runs the notebook created in its FTLAB_HOME."""


def execute(path: Path, env: dict[str, str], home: Path) -> Executed:
    """Runs the notebook top to bottom in a fresh kernel whose environment is `env`, then deletes its home."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=600,
                            resources={"metadata": {"path": str(NOTEBOOKS_DIR)}})
    client.execute(env=env)  # raises CellExecutionError, naming the cell, on the first error
    runs = sorted(p.name for p in (home / "runs").iterdir()) if (home / "runs").is_dir() else []
    # The 17 homes hold ~10 GB of checkpoints together, more than CI's disk can spare; a failing
    # notebook raised above and keeps its home for inspection.
    shutil.rmtree(home, ignore_errors=True)
    return Executed(nb, runs)


@pytest.fixture(scope="module")
def executions(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future]]:
    """Every selected notebook, submitted to a pool of kernels: each in a home of its own, with a `python3`
    kernelspec running this interpreter (so the notebook sees the same ftlab and packages as the tests, whatever
    `python` is first on PATH), the small budgets and one torch thread."""
    root = tmp_path_factory.mktemp("notebooks")
    spec_dir = root / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec_dir.joinpath("kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ftlab tests)", "language": "python"}))
    selected = {item.callspec.params["path"].name for item in request.session.items
                if getattr(item, "originalname", None) == "test_notebook_runs"}
    order = sorted(selected, key=lambda name: (name not in LONGEST_FIRST, LONGEST_FIRST.index(name)
                                               if name in LONGEST_FIRST else 0, name))
    base = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    pool = ThreadPoolExecutor(max_workers=KERNELS_AT_ONCE)
    futures = {}
    for name in order:
        home = make_home(root / name.removesuffix(".ipynb") / "home")
        env = {**base, **SMALL_BUDGETS, "JUPYTER_PATH": str(root / "jupyter"), "HF_HUB_OFFLINE": "1",
               "JUPYTER_RUNTIME_DIR": str(root / "jupyter_runtime"), "FTLAB_HOME": str(home),
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        futures[name] = pool.submit(execute, NOTEBOOKS_DIR / name, env, home)
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOKS_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_expected_outputs(path: Path) -> None:
    assert path.name in EXPECTED_OUTPUTS, f"add {path.name} to EXPECTED_OUTPUTS: the strings its outputs must contain"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path: Path) -> None:
    """No stored outputs, and a `parameters` cell first so the budgets can be overridden."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code_cells), f"{path.name} has stored outputs"
    assert "parameters" in code_cells[0].metadata.get("tags", []), "the first code cell must be tagged 'parameters'"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path: Path, executions: dict[str, Future]) -> None:
    executed = executions[path.name].result()
    errors = [o for c in executed.notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    text = _outputs_text(executed.notebook)
    missing = [expected for expected in EXPECTED_OUTPUTS[path.name] if expected not in text]
    assert not missing, f"{path.name}: {missing} not in the outputs"
    assert "Traceback" not in text
    # The notebook trained in its own home, not in the checkout's data/.
    assert executed.runs, "the notebook did not create a run in FTLAB_HOME"
