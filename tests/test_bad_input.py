"""Bad input: the CLI answers with one clear paragraph naming the problem and the fix, exits 2, and writes nothing.

Every case runs `ftlab.cli.main` in-process with a fresh `FTLAB_HOME` and an empty working directory (conftest's
`fresh_home`), and checks that the error happens before anything is written: no file outside the home, no run
folder inside it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import fixtures as fx
from ftlab.config import TrainConfig
from ftlab.cli import main

FAKE_RUN = "lora-rt-demo"
"""A finished run (state.json only) that some cases put in the home, to check that its name is offered."""


@dataclass(frozen=True)
class Case:
    id: str
    argv: list[str]
    """`{in}` stands for the folder of the case's input files."""
    expect: list[str]
    """Substrings the error must contain: the problem and what exists instead."""
    files: dict[str, str | bytes] = field(default_factory=dict)
    fake_run: bool = False
    xfail: str | None = None
    """A known defect in a module this file's author may not edit: the reason, until it is fixed."""


def C(id: str, argv: str | list[str], expect: list[str], files: dict[str, str | bytes] | None = None,
      fake_run: bool = False, xfail: str | None = None) -> Case:
    return Case(id, argv.split() if isinstance(argv, str) else argv, expect, files or {}, fake_run, xfail)


GOOD = {"good.csv": fx.GROUPED_CSV}
TRAIN_GOOD = "train --data {in}/good.csv "

CASES = [
    # -- the data file ---------------------------------------------------------------------------------------------
    C("missing-file", "train --data {in}/nope.csv", ["No file at", "nope.csv", "spelling"]),
    C("directory-not-file", "train --data {in}", ["is a folder, not a file", "train.csv"]),
    C("unsupported-extension", "train --data {in}/table.xlsx", ["'.xlsx'", ".csv", "UTF-8"],
      {"table.xlsx": "not really excel"}),
    C("csv-extra-field", "train --data {in}/bad.csv", ["not valid CSV", "row 2 has 3 fields", "double quotes"],
      {"bad.csv": fx.CSV_EXTRA_FIELD}),
    C("csv-unclosed-quote", "train --data {in}/bad.csv", ["not valid CSV", "never closes", "double quotes"],
      {"bad.csv": fx.CSV_UNCLOSED_QUOTE}),
    C("jsonl-malformed", "train --data {in}/bad.jsonl", ["not valid JSON at line 2", "one complete object per line"],
      {"bad.jsonl": fx.JSONL_MALFORMED}),
    C("jsonl-not-object", "train --data {in}/bad.jsonl", ["line 2 is a JSON list, not an object"],
      {"bad.jsonl": fx.JSONL_NOT_OBJECT}),
    C("wrong-column-names", "train --data {in}/bad.csv", ["no column 'text'", "sentence, category"],
      {"bad.csv": fx.WRONG_COLUMNS_CSV}),
    C("wrong-text-col", TRAIN_GOOD + "--text-col review", ["no column 'review'", "text, label, group"], GOOD),
    C("wrong-label-col", TRAIN_GOOD + "--label-col sentiment", ["no column 'sentiment'", "text, label, group"], GOOD),
    C("same-text-and-label-col", TRAIN_GOOD + "--text-col text --label-col text", ["both 'text'", "two different"],
      GOOD),
    C("wrong-separator", "train --data {in}/bad.csv", ["no column 'text'", "text;label", "';'"],
      {"bad.csv": fx.SEMICOLON_CSV}),
    C("empty-file", "train --data {in}/empty.csv", ["has no rows", "labelled examples"], {"empty.csv": fx.EMPTY_FILE}),
    C("header-only", "train --data {in}/empty.csv", ["has no rows"], {"empty.csv": fx.HEADER_ONLY_CSV}),
    C("too-few-rows", "train --data {in}/two.tsv", ["2 rows", "at least 3"], {"two.tsv": fx.GOOD_TSV}),
    C("one-class", "train --data {in}/bad.csv", ["only one class ('pos')", "at least two"],
      {"bad.csv": fx.ONE_CLASS_CSV}),
    C("labels-all-missing", "train --data {in}/bad.csv", ["label column 'label'", "empty in every row"],
      {"bad.csv": fx.NO_LABELS_CSV}),
    C("labels-some-missing", "train --data {in}/bad.csv", ["no label", "rows 2, 4", "fill in their labels"],
      {"bad.csv": fx.MISSING_LABELS_CSV}),
    C("blank-texts", "train --data {in}/bad.csv", ["whitespace-only text", "rows 2, 3, 5", "delete those rows"],
      {"bad.csv": fx.BLANK_TEXTS_CSV}),
    C("corrupt-parquet", "train --data {in}/bad.parquet", ["not a readable Parquet file", "CSV"],
      {"bad.parquet": fx.GOOD_CSV}),
    C("non-utf8", "train --data {in}/bad.csv", ["not UTF-8", "line 2", "iconv"], {"bad.csv": fx.LATIN1_CSV}),
    C("data-and-dataset", TRAIN_GOOD + "--dataset rotten_tomatoes", ["either --dataset or --data"], GOOD),
    # -- registries: dataset, model, method, task ------------------------------------------------------------------
    C("unknown-dataset", "train --dataset imdb",
      ["Unknown dataset 'imdb'", "rotten_tomatoes", "adult_text", "wnut16", "ftlab datasets"]),
    C("unknown-model", "train --model bert-large", ["Unknown model 'bert-large'", "minilm"]),
    C("unknown-model-with-data", TRAIN_GOOD + "--model bert-large", ["Unknown model 'bert-large'", "minilm"], GOOD),
    C("unknown-hub-model-offline", "train --model org/no-such-model", ["'org/no-such-model'", "minilm"]),
    C("model-folder-without-config", "train --model {in}", ["config.json", "minilm"], {"notes.txt": "no model here"}),
    C("model-folder-of-trained-tensors-only", "train --model {in}", ["trained_weights.safetensors", "base --model"],
      {"config.json": "{}", "trained_weights.safetensors": b"not a whole model"}),
    C("unknown-method", "train --method qlora", ["Unknown method 'qlora'", "lora", "freeze", "bitfit", "full"]),
    C("unknown-task", "train --task summarization", ["Unknown task 'summarization'", "classification", "ner", "sft"]),
    # -- sft (instruction tuning of a causal LM): chat files, models and methods that do not fit ------------------
    C("sft-encoder-model", "train --task sft --model minilm", ["'minilm'", "--model smollm2-135m for --task sft"]),
    C("sft-model-for-classification", "train --model smollm2-135m", ["'smollm2-135m'", "not 'classification'"]),
    C("sft-jsonl-missing-keys", "train --task sft --model smollm2-135m --data {in}/c.jsonl",
      ["c.jsonl line 2 has no `prompt` and no `response`", "question, answer", "`messages`"],
      {"c.jsonl": fx.SFT_MISSING_KEYS}),
    C("sft-empty-response", "train --task sft --model smollm2-135m --data {in}/c.jsonl",
      ["c.jsonl line 3", "answer is empty"], {"c.jsonl": fx.SFT_EMPTY_RESPONSE}),
    C("sft-unknown-role", "train --task sft --model smollm2-135m --data {in}/c.jsonl",
      ["c.jsonl line 2", "unknown chat role 'human'", "system, user, assistant"], {"c.jsonl": fx.SFT_UNKNOWN_ROLE}),
    C("sft-csv-file", "train --task sft --model smollm2-135m --data {in}/good.csv", ["JSON lines (.jsonl)"], GOOD),
    C("sft-prompt-tuning", "train --task sft --model smollm2-135m --method prompt_tuning",
      ["does not support the 'sft' task", "lora"]),
    C("generate-unknown-run", "generate NO_SUCH_RUN --prompt hi", ["Unknown run 'NO_SUCH_RUN'", "ftlab runs"]),
    C("generate-without-prompt", f"generate {FAKE_RUN}", ["--prompt", "ftlab generate --help"], fake_run=True),
    C("generate-negative-temperature", f"generate {FAKE_RUN} --prompt hi --temperature -1",
      ["--temperature must be a number from 0 to 5"], fake_run=True),
    C("ner-task-classification-dataset", "train --task ner --dataset rotten_tomatoes",
      ["'rotten_tomatoes' is for the 'classification' task, not 'ner'", "--task classification", "wnut16"]),
    C("dataset-of-another-task", "train --dataset wnut16", ["wnut16", "'ner' task", "--task ner"]),
    # -- NER files -------------------------------------------------------------------------------------------------
    C("ner-conll-line-without-tag", "train --task ner --data {in}/a.conll",
      ["a.conll, line 2", "'Smith' has a token but no tag"], {"a.conll": fx.CONLL_NO_TAG}),
    C("ner-unknown-tag-scheme", "train --task ner --data {in}/a.conll", ["line 1", "'PER' is in no known tag scheme"],
      {"a.conll": fx.CONLL_UNKNOWN_SCHEME}),
    C("ner-bad-scheme-flag", "train --task ner --data {in}/a.conll --tag-scheme iob3",
      ["--tag-scheme", "iob3", "auto"], {"a.conll": fx.NER_CONLL}),
    C("ner-lengths-differ", "train --task ner --data {in}/a.jsonl", ["line 1", "2 tokens but 1 tags"],
      {"a.jsonl": fx.JSONL_LENGTHS_DIFFER}),
    C("ner-empty-sentence", "train --task ner --data {in}/a.jsonl", ["line 2", "empty sentence"],
      {"a.jsonl": fx.JSONL_EMPTY_SENTENCE}),
    C("dataset-of-another-task-lists-datasets", "train --dataset wnut16", ["wnut16", "adult_text", "rotten_tomatoes"]),
    C("option-of-another-method", "train --method lora --freeze-layers 3",
      ["--freeze-layers is an option of --method freeze", "not of --method lora"]),
    C("unknown-method-option", "train --config {in}/c.yaml", ["no option(s) rank", "Its options", "alpha", "r"],
      {"c.yaml": fx.CONFIG_UNKNOWN_METHOD_OPTION}),
    C("bad-method-option-value", "train --method lora --lora-r 0", ["--lora-r", "positive"]),
    C("bad-freeze-layers", "train --method freeze --freeze-layers -1", ["--freeze-layers", "-1"]),
    # distillation: the teacher run is checked before anything is written (its labels once the data is read)
    C("distill-without-teacher", "train --method distill", ["needs a teacher", "--distill-teacher", "--teacher"]),
    C("distill-unknown-teacher", "train --method distill --teacher NO_SUCH_RUN",
      ["--distill-teacher", "Unknown run 'NO_SUCH_RUN'", "ftlab runs"]),
    C("distill-teacher-dot-dot", "train --method distill --distill-teacher ../evil", ["'../evil'", "no '..'"]),
    C("distill-teacher-without-model", f"train --method distill --teacher {FAKE_RUN}",
      [FAKE_RUN, "no trained model folder"], fake_run=True),
    C("distill-zero-temperature", "train --method distill --teacher x --distill-temperature 0",
      ["--distill-temperature", "greater than 0"]),
    C("distill-negative-alpha", "train --method distill --teacher x --distill-alpha -1",
      ["--distill-alpha", "0 or more"]),
    C("distill-unknown-layer-choice", "train --method distill --teacher x --distill-layer-choice top",
      ["--distill-layer-choice", "spread", "first"]),
    C("teacher-with-another-method", "train --method full --teacher x",
      ["--distill-teacher is an option of --method distill", "not of --method full"]),
    # -- config values ---------------------------------------------------------------------------------------------
    C("negative-max-steps", "train --max-steps -5", ["--max-steps", "-5", "positive"]),
    C("zero-epochs", "train --epochs 0", ["--epochs", "greater than 0"]),
    C("zero-batch-size", "train --batch-size 0", ["--batch-size", "positive"]),
    C("learning-rate-too-big", "train --learning-rate 5", ["--learning-rate", "between 0 and 1"]),
    C("warmup-ratio-out-of-range", "train --warmup-ratio 1.5", ["--warmup-ratio", "[0, 1)"]),
    C("unknown-padding", "train --padding longest", ["--padding", "dynamic", "max_length"]),
    C("unknown-preset", "train --preset turbo", ["Unknown preset 'turbo'", "default", "seed"]),
    C("early-stopping-steps-mismatch", "train --early-stopping-patience 2 --save-steps 50 --eval-steps 20",
      ["--save-steps", "--eval-steps", "multiple"]),
    C("epochs-not-a-number", "train --epochs three", ["--epochs", "three", "ftlab train --help"]),
    C("max-steps-not-whole", "train --max-steps 1.5", ["--max-steps", "1.5", "ftlab train --help"]),
    C("unknown-flag", "train --lerning-rate 0.1",
      ["--lerning-rate", "Did you mean --learning-rate?", "ftlab train --help"]),
    C("predict-without-text", "predict NO_SUCH_RUN", ["--text", "ftlab predict --help"]),
    C("config-unknown-key", "train --config {in}/c.yaml", ["lerning_rate", "Known keys", "learning_rate"],
      {"c.yaml": fx.CONFIG_UNKNOWN_KEY}),
    C("config-broken-yaml", "train --config {in}/c.yaml", ["not valid YAML at line 3", "c.yaml"],
      {"c.yaml": fx.CONFIG_BROKEN_YAML}),
    C("config-not-a-mapping", "train --config {in}/c.yaml", ["must be a mapping", "list"],
      {"c.yaml": fx.CONFIG_NOT_A_MAPPING}),
    C("config-missing", "train --config {in}/nope.yaml", ["nope.yaml", "does not exist"]),
    C("config-is-a-directory", "train --config {in}", ["is not a file", "--config"]),
    C("config-wrong-type", "train --config {in}/c.yaml", ["--epochs", "must be a number, got 'three'", "epochs: 3"],
      {"c.yaml": fx.CONFIG_WRONG_TYPE}),
    C("config-method-options-not-mapping", "train --config {in}/c.yaml", ["method_options", "mapping", "{r: 16}"],
      {"c.yaml": fx.CONFIG_BAD_METHOD_OPTIONS}),
    C("config-data-not-a-path", "train --config {in}/c.yaml", ["--data", "must be a string, got 5"],
      {"c.yaml": fx.CONFIG_DATA_NOT_A_PATH}),
    # -- run names -------------------------------------------------------------------------------------------------
    C("name-dot-dot", "train --name ../evil", ["'../evil'", "no '/' and no '..'", "--name"]),
    C("name-slash", "train --name a/b", ["'a/b'", "no '/'", "--name"]),
    C("name-absolute", "train --name /tmp/evil", ["'/tmp/evil'", "--name"]),
    C("name-empty", ["train", "--name", ""], ["''", "--name"]),
    C("predict-run-dot-dot", "predict ../evil --text hi", ["'../evil'", "no '..'"]),
    C("evaluate-run-slash", "evaluate a/b", ["'a/b'", "no '/'"]),
    C("resume-run-dot-dot", "train --resume ../evil", ["'../evil'", "no '..'"]),
    # -- runs ------------------------------------------------------------------------------------------------------
    C("predict-unknown-run", "predict NO_SUCH_RUN --text hi", ["Unknown run 'NO_SUCH_RUN'", "ftlab runs"]),
    C("evaluate-unknown-run", "evaluate NO_SUCH_RUN", ["Unknown run 'NO_SUCH_RUN'", "ftlab runs"]),
    C("resume-unknown-run", "train --resume NO_SUCH_RUN", ["Unknown run 'NO_SUCH_RUN'", "ftlab runs"]),
    C("unknown-run-lists-known", "predict NO_SUCH_RUN --text hi", ["Unknown run 'NO_SUCH_RUN'", FAKE_RUN],
      fake_run=True),
    C("resume-finished-run", f"train --resume {FAKE_RUN}", [FAKE_RUN, "already finished", "new run"], fake_run=True),
    C("resume-with-flags", f"train --resume {FAKE_RUN} --epochs 5", ["drop --epochs"], fake_run=True),
    C("predict-run-without-model", f"predict {FAKE_RUN} --text hi", [FAKE_RUN, "no trained model"], fake_run=True),
    C("evaluate-unknown-split", f"evaluate {FAKE_RUN} --split dev", ["Unknown split 'dev'", "validation"],
      fake_run=True),
    C("predict-blank-text", ["predict", FAKE_RUN, "--text", "  "], ["Nothing to predict", "--text"], fake_run=True),
    # -- the job queue ------------------------------------------------------------------------------------------------
    C("queue-resume-finished", f"train --resume {FAKE_RUN} --queue", [FAKE_RUN, "already finished"], fake_run=True),
    C("gpu-without-queue", TRAIN_GOOD + "--gpu 0", ["--gpu", "add --queue", "CUDA_VISIBLE_DEVICES"], GOOD),
    C("queue-missing-gpu", TRAIN_GOOD + "--queue --gpu 5", ["GPU 5 does not exist", "Leave --gpu out"], GOOD),
    C("nproc-without-queue", TRAIN_GOOD + "--nproc 2", ["--nproc", "add --queue", "torchrun --nproc_per_node 2"],
      GOOD),
    C("nproc-zero", TRAIN_GOOD + "--queue --nproc 0", ["--nproc must be a whole number of at least 1"], GOOD),
    C("nproc-too-many", TRAIN_GOOD + "--queue --nproc 999", ["--nproc 999", "or fewer"], GOOD),
    C("unknown-precision", TRAIN_GOOD + "--precision fp8", ["--precision", "'fp8'", "fp32, bf16, fp16, auto"], GOOD),
    C("concurrency-zero", "jobs --concurrency 0", ["--concurrency", "at least 1"]),
    C("concurrency-word", "jobs --concurrency many", ["--concurrency", "'auto'", "Example"]),
    C("cancel-unknown-run", "cancel nosuch", ["Unknown run 'nosuch'", FAKE_RUN], fake_run=True),
    C("cancel-finished-run", f"cancel {FAKE_RUN}", [FAKE_RUN, "finished", "nothing to cancel"], fake_run=True),
    C("delete-without-yes", f"delete {FAKE_RUN}", ["for good", f"ftlab delete {FAKE_RUN} --yes"], fake_run=True),
    C("delete-unknown-run", "delete nosuch --yes", ["nosuch", "ftlab runs"]),
    # -- explanations --------------------------------------------------------------------------------------------------
    C("explain-unknown-run", "explain NO_SUCH_RUN --text hi", ["Unknown run 'NO_SUCH_RUN'", "ftlab runs"]),
    C("explain-blank-text", ["explain", FAKE_RUN, "--text", "  "], ["Nothing to explain", "--text"], fake_run=True),
    C("explain-without-text", f"explain {FAKE_RUN}", ["--text", "ftlab explain --help"], fake_run=True),
    C("explain-unknown-explainer", f"explain {FAKE_RUN} --text hi --explainer kernel",
      ["--explainer", "'kernel'", "shap", "lime", "ig"], fake_run=True),
    C("explain-zero-shap-evals", f"explain {FAKE_RUN} --text hi --shap-evals 0", ["--shap-evals", "positive"],
      fake_run=True),
    C("explain-run-without-model", f"explain {FAKE_RUN} --text hi", [FAKE_RUN, "no trained model"], fake_run=True),
    C("explain-run-dot-dot", "explain ../evil --text hi", ["'../evil'", "no '..'"]),
    # few-shot curves: every point is checked before the first one trains
    C("fewshot-unknown-method", "fewshot --methods full,lorra --ks 2", ["'lorra'", "lora"]),
    C("fewshot-k-too-large", "fewshot --methods full --ks 2 100000 --seeds 1", ["--shots-per-class 100000"]),
    C("fewshot-zero-seeds", "fewshot --seeds 0", ["--seeds", "1 or more"]),
    C("fewshot-ner-dataset", "fewshot --methods lora --dataset wnut16", ["'wnut16'", "'ner' task"]),
    C("cost-unknown-run", "cost no-such-run", ["'no-such-run'"]),
    C("cost-negative-price", f"cost {FAKE_RUN} --price-per-hour -1", ["--price-per-hour", "0 or more"], fake_run=True),
    C("cost-unknown-frontier-axis", f"cost {FAKE_RUN} --frontier speed", ["--frontier", "train_flops"],
      fake_run=True),
    C("fewshot-html-missing-folder", "fewshot --ks 2 --html {in}/no/such/curve.html", ["--html", "does not exist"]),
    # -- serving and export ------------------------------------------------------------------------------------------
    C("serve-unknown-run", "serve NO_SUCH_RUN", ["Unknown run 'NO_SUCH_RUN'", "ftlab runs"]),
    C("serve-port-out-of-range", f"serve {FAKE_RUN} --port 70000", ["--port", "between 1 and 65535"],
      fake_run=True),
    C("serve-port-not-a-number", f"serve {FAKE_RUN} --port http", ["--port", "'http'", "ftlab serve --help"],
      fake_run=True),
    C("export-unknown-run", "export NO_SUCH_RUN {in}/out", ["Unknown run 'NO_SUCH_RUN'", "ftlab runs"]),
    C("export-into-non-empty-folder", f"export {FAKE_RUN} {{in}}", ["already exists and is not empty",
                                                                     "never overwrites"],
      {"mine.txt": "keep me"}, fake_run=True),
    C("export-run-dot-dot", "export ../evil {in}/out", ["'../evil'", "no '..'"]),
    # -- QLoRA -------------------------------------------------------------------------------------------------------
    C("train-load-in-3-bits", TRAIN_GOOD + "--method lora --load-in-bits 3", ["--load-in-bits", "4 or 8"], GOOD),
    C("train-load-in-bits-full", TRAIN_GOOD + "--method full --load-in-bits 4",
      ["--load-in-bits 4", "method 'full'", "--method ia3 or lora"], GOOD),
    C("train-load-in-bits-without-gpu", TRAIN_GOOD + "--method lora --load-in-bits 4",
      ["--load-in-bits 4", "CUDA GPU", "bitsandbytes", "leave --load-in-bits out"], GOOD),
    # -- compression -------------------------------------------------------------------------------------------------
    C("compress-sparsity-zero", f"compress {FAKE_RUN} --prune 0", ["--prune", "between 0 and 1", "--prune 0.5"],
      fake_run=True),
    C("compress-sparsity-one", f"compress {FAKE_RUN} --prune 1", ["--prune", "between 0 and 1"], fake_run=True),
    C("compress-nothing-to-do", f"compress {FAKE_RUN}", ["Nothing to do", "--prune", "--int8"], fake_run=True),
    C("compress-finetune-without-prune", f"compress {FAKE_RUN} --int8 --prune-finetune-steps 5",
      ["--prune-finetune-steps", "add --prune"], fake_run=True),
    C("compress-int8-and-8bit", f"compress {FAKE_RUN} --int8 --load-in-8bit", ["Choose one", "--int8"],
      fake_run=True),
    C("compress-4bit-without-gpu", f"compress {FAKE_RUN} --load-in-4bit", ["--load-in-4bit", "bitsandbytes",
                                                                           "--int8"], fake_run=True),
    C("compress-unknown-run", "compress NO_SUCH_RUN --int8", ["Unknown run 'NO_SUCH_RUN'", "ftlab runs"]),
    C("compress-run-without-model", f"compress {FAKE_RUN} --int8", [FAKE_RUN, "no saved model", "Train it again"],
      fake_run=True),
    C("compress-run-dot-dot", "compress ../evil --int8", ["'../evil'", "no '..'"]),
    C("compress-name-slash", f"compress {FAKE_RUN} --int8 --name a/b", ["'a/b'", "no '/'"], fake_run=True),
]


# -- isolation ----------------------------------------------------------------------------------------------------

@pytest.fixture
def env(fresh_home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """conftest's fresh home (assets linked in) and empty working directory, plus a folder for the input files."""
    cwd, inputs = Path.cwd(), fresh_home.parent / "inputs"
    assert cwd != fresh_home and not any(cwd.iterdir())
    inputs.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return {"home": fresh_home, "cwd": cwd, "inputs": inputs}


def _files(root: Path) -> set[str]:
    """Every file and folder under `root`, without following the assets link."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if "assets" not in p.relative_to(root).parts[:1]}


def _write_fake_run(home: Path) -> None:
    folder = home / "runs" / FAKE_RUN
    folder.mkdir(parents=True)
    (folder / "state.json").write_text(json.dumps({"run_id": FAKE_RUN, "status": "finished", "labels": ["neg", "pos"]}))
    (folder / "config.yaml").write_text(TrainConfig(name=FAKE_RUN).to_yaml())  # every run folder starts with it


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's own errors (unknown flag, `--epochs three`) exit 2 from parse_args
        rc = exc.code if isinstance(exc.code, int) else 1
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(reason=c.xfail, strict=True)]
                                                if c.xfail else []) for c in CASES])
def test_bad_input_is_a_clear_error_and_writes_nothing(case: Case, env: dict[str, Path],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    home, cwd, inputs = env["home"], env["cwd"], env["inputs"]
    for name, content in case.files.items():
        path = inputs / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content, encoding="utf-8")
    if case.fake_run:
        _write_fake_run(home)
    home_before, inputs_before = _files(home), _files(inputs)

    rc, err = run_cli([arg.replace("{in}", str(inputs)) for arg in case.argv], capsys)

    assert rc == 2, f"exit code {rc}, stderr:\n{err}"
    assert "Traceback" not in err, err
    message = err.strip()
    assert "error:" in message, err
    assert "\n\n" not in message, f"the error is not one paragraph:\n{err}"
    assert len([line for line in message.splitlines() if "error:" in line]) == 1, err
    for expected in case.expect:
        assert expected in message, f"{expected!r} missing from:\n{err}"
    # Nothing written outside the home, nothing but (empty) folders inside it, no run started.
    assert not any(cwd.iterdir()), f"files written to the working directory: {list(cwd.iterdir())}"
    assert _files(inputs) == inputs_before
    new = _files(home) - home_before
    assert all((home / p).is_dir() and not any((home / p).iterdir()) for p in new), f"written to the home: {new}"
    states = sorted(str(p.relative_to(home)) for p in home.glob("runs/**/state.json"))
    assert states == ([f"runs/{FAKE_RUN}/state.json"] if case.fake_run else []), states


@pytest.mark.parametrize("method", ["prompt_tuning", "prefix_tuning"])
def test_method_that_does_not_support_the_task(method: str, env: dict[str, Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Prompt and prefix tuning are classification-only: NER with them is refused before anything is written."""
    rc, err = run_cli(["train", "--task", "ner", "--dataset", "wnut16", "--method", method], capsys)
    assert rc == 2, err
    assert "Traceback" not in err and "\n\n" not in err.strip(), err
    for expected in (f"Method '{method}' does not support the 'ner' task", "classification", "lora", "full"):
        assert expected in err, err
    assert not any(env["cwd"].iterdir())
    assert not list(env["home"].glob("runs/**/state.json"))
