"""The Train page (AppTest) and the upload helpers behind it (`ftlab.uploads`).

Every bad input must show its own inline message naming the fix and start nothing: no job in the queue, no run
folder in the home (conftest's `fresh_home`). One tiny real launch checks the success message, the link to the
run and the queue table, then cancels the job and waits until nothing of it runs.
"""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

import psutil
import pytest
from streamlit.testing.v1 import AppTest

import fixtures as fx
from components.config_form import ASKED_ABOVE, DataChoice, FormResult, build_config
from ftlab import jobs, runs, uploads
from ftlab.config import TrainConfig
from ftlab.errors import UserError

APP = Path(__file__).resolve().parents[1] / "workbench" / "app.py"


def open_train() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.switch_page("views/train.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Train"
    return at


def upload(at: AppTest, name: str, content: str | bytes) -> AppTest:
    at.radio(key="train.source").set_value("My own table").run()
    data = content.encode() if isinstance(content, str) else content
    at.file_uploader(key="train.upload").upload(name, data, "text/plain")
    at.run()
    assert not at.exception, at.exception
    return at


def launch(at: AppTest) -> AppTest:
    at.form_submit_button[0].click().run()
    assert not at.exception, at.exception
    return at


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def assert_nothing_started(home: Path) -> None:
    assert jobs.list_jobs() == []
    assert not any((home / "runs").glob("*")), list((home / "runs").glob("*"))


# -- the form comes from the dataclasses ----------------------------------------------------------------------

def test_form_fields_come_from_the_config_dataclasses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "gpu_count", lambda: 2)  # the page offers a GPU choice only where there are GPUs
    at = open_train()
    keys = {w.key for kind in ("number_input", "text_input", "selectbox", "checkbox") for w in getattr(at, kind)}
    assert {f"train.{f.name}" for f in dataclasses.fields(TrainConfig) if f.name not in ASKED_ABOVE} <= keys
    assert at.selectbox(key="train.preset").options == ["default", "fast", "seed"]
    assert at.selectbox(key="train.gpu").options == ["Any", "0", "1"]
    assert at.expander[0].label == "Advanced"
    assert "train.opt.lora.r" not in keys  # the default method, full, has no options

    at.selectbox(key="train.method").select("lora").run()
    assert at.number_input(key="train.opt.lora.r").value == 8  # LoraOptions.r's default
    assert at.checkbox(key="train.opt.lora.use_dora").value is False
    at.selectbox(key="train.method").select("freeze").run()
    assert at.number_input(key="train.opt.freeze.layers").value == 2
    assert any("Default learning rate: 0.0001." in c.value for c in at.caption)


# -- bad input: an inline message naming the fix, nothing started --------------------------------------------

def test_no_text_column_chosen(fresh_home: Path) -> None:
    at = upload(open_train(), "reviews.csv", fx.WRONG_COLUMNS_CSV)  # columns: sentence, category
    assert errors(at) == ["No text column chosen. Choose the column of reviews.csv that holds the texts (its "
                          "columns: sentence, category)."]
    assert "sentence" in at.dataframe[0].value.columns  # the first rows, to choose from

    launch(at)
    assert any(e.startswith("No text column chosen") for e in errors(at)), errors(at)
    assert not at.success
    assert_nothing_started(fresh_home)

    # The fix the message names works: with both columns chosen, the labels are counted.
    pickers = {w.key.split(".")[1]: w for w in at.selectbox if w.key.startswith(("train.text_col", "train.label_col"))}
    pickers["text_col"].select("sentence")
    pickers["label_col"].select("category")
    at.run()
    assert errors(at) == []
    counts = at.dataframe[1].value
    assert sorted(zip(counts["label"], counts["examples"])) == [("neg", 1), ("pos", 1)]


def test_non_numeric_learning_rate(fresh_home: Path) -> None:
    at = open_train()
    at.text_input(key="train.learning_rate").input("fast")
    launch(at)
    assert ("--learning-rate must be a number like 0.001 or 2e-5, got 'fast'; leave it empty or type 'auto' to use "
            "the default.") in errors(at)
    assert "Not launched: fix the learning rate above." in errors(at)
    assert not at.success
    assert_nothing_started(fresh_home)


def test_library_validation_shows_the_cli_message(fresh_home: Path) -> None:
    at = open_train()
    at.number_input(key="train.epochs").set_value(0.0)
    launch(at)
    assert errors(at) == ["--epochs must be greater than 0, got 0.0; use e.g. --epochs 3."]
    assert_nothing_started(fresh_home)


def test_qlora_without_a_gpu_says_what_it_needs(fresh_home: Path) -> None:
    at = open_train()
    at.selectbox(key="train.method").select("lora").run()
    at.selectbox(key="train.load_in_bits").select(4)
    launch(at)
    assert len(errors(at)) == 1 and all(part in errors(at)[0] for part in ["--load-in-bits 4", "CUDA GPU",
                                                                            "leave --load-in-bits out"]), errors(at)
    assert_nothing_started(fresh_home)


@pytest.mark.parametrize("name, content, expect", [
    ("reviews.jsonl", fx.JSONL_MALFORMED, ["reviews.jsonl is not valid JSON at line 2", "one complete object per line"]),
    ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", ["photo.csv is not UTF-8 text", "Re-save it as UTF-8"]),
])
def test_upload_that_is_not_a_table(fresh_home: Path, name: str, content: str | bytes,
                                    expect: list[str]) -> None:
    at = upload(open_train(), name, content)
    assert len(at.error) == 1 and all(part in at.error[0].value for part in expect), errors(at)
    assert str(fresh_home) not in at.error[0].value  # named as uploaded, not as saved
    assert not at.dataframe  # no preview of something that is not a table
    launch(at)
    assert all(part in at.error[-1].value for part in expect), errors(at)
    assert_nothing_started(fresh_home)


def test_label_column_with_one_class(fresh_home: Path) -> None:
    at = upload(open_train(), "one_class.csv", fx.ONE_CLASS_CSV)
    assert errors(at) == ["The label column 'label' of one_class.csv has only one class ('pos'); a classifier needs "
                          "at least two. Add examples of the other classes, or check that this is the label column."]
    launch(at)
    assert "only one class ('pos')" in at.error[-1].value
    assert_nothing_started(fresh_home)


def test_launch_without_an_upload(fresh_home: Path) -> None:
    at = open_train()
    at.radio(key="train.source").set_value("My own table").run()
    launch(at)
    assert errors(at) == ["No table uploaded yet: upload a CSV, TSV, JSON lines or Parquet file, or choose "
                          "'A registered dataset' above."]
    assert_nothing_started(fresh_home)


# -- a real launch ------------------------------------------------------------------------------------------------

def test_launch_queues_a_job_and_links_to_it(fresh_home: Path) -> None:
    at = open_train()
    at.selectbox(key="train.method").select("lora").run()
    at.number_input(key="train.max_steps").set_value(2)
    at.number_input(key="train.train_size").set_value(32)
    at.number_input(key="train.eval_size").set_value(16)
    at.number_input(key="train.opt.lora.r").set_value(4)
    launch(at)
    try:
        assert errors(at) == []
        run_id = at.session_state["train.launched"]
        assert at.success[0].value.startswith(f"Launched run {run_id}")
        link = at.get("page_link")[0].proto
        assert (link.page, link.query_string) == ("run", f"run={run_id}")
        assert run_id in list(at.dataframe[-1].value["run_id"])  # the queue table under the form
        assert run_id in [job["run_id"] for job in jobs.list_jobs()]
        saved = (fresh_home / "runs" / run_id / "config.yaml").read_text()
        assert all(line in saved.splitlines() for line in ("method: lora", "max_steps: 2", "train_size: 32",
                                                          "eval_size: 16", "method_options:", "  r: 4"))
    finally:
        statuses = stop_jobs()
    assert statuses == ["cancelled"]
    assert not jobs.list_jobs()


def stop_jobs() -> list[str]:
    """Cancel every job and wait until none runs; returns the runs' final statuses.

    Then the idle worker is ended (its queue is empty: it would only linger, then exit) and any job process
    that is still closing is waited for, so that nothing takes CPU from the tests after this one.
    """
    run_ids = [job["run_id"] for job in jobs.list_jobs()]
    for run_id in run_ids:
        jobs.cancel(run_id)
    deadline = time.time() + 90
    while time.time() < deadline and (jobs.list_jobs() or any(_status(r) in ("running", "queued") for r in run_ids)):
        time.sleep(0.5)
    mine = [p for p in psutil.Process().children(recursive=True) if _job_command(p)]
    workers = [p for p in mine if _job_command(p)[-1:] == ["worker"]]
    for worker in workers:
        worker.terminate()
    psutil.wait_procs(mine, timeout=60)
    return [_status(r) for r in run_ids]


def _status(run_id: str) -> str:
    return runs.refresh(runs.read_state(run_id)).status


def _job_command(process: psutil.Process) -> list[str]:
    """The arguments after `-m ftlab.jobs` (`worker` or `run RUN`), or [] for any other process."""
    try:
        command = process.cmdline()
    except psutil.Error:  # it exited meanwhile
        return []
    return command[command.index("ftlab.jobs") + 1:] if "ftlab.jobs" in command else []


# -- ftlab.uploads -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["../../etc/passwd.csv", "..\\..\\evil.csv", "/abs/path/x.csv", "a..b.csv",
                                  ".hidden.csv", "my data (1).CSV", "é.csv"])
def test_uploads_stay_in_the_home(fresh_home: Path, name: str) -> None:
    path = uploads.save_upload(name, fx.GOOD_CSV.encode())
    assert path.parent == fresh_home / "uploads"
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*-[0-9a-f]{12}\.csv", path.name), path.name
    assert path.read_text() == fx.GOOD_CSV
    assert [p for p in fresh_home.rglob("*") if p.is_file()] == [path]


def test_same_upload_is_saved_once(fresh_home: Path) -> None:
    first = uploads.save_upload("t.csv", fx.GOOD_CSV.encode())
    assert uploads.save_upload("t.csv", fx.GOOD_CSV.encode()) == first
    assert uploads.save_upload("t.csv", fx.GROUPED_CSV.encode()) != first  # same name, other content


def test_upload_limits(fresh_home: Path) -> None:
    with pytest.raises(UserError, match=r"'big.csv' is 2 MB; uploads are limited to 1 MB\. Upload a sample"):
        uploads.save_upload("big.csv", b"x" * (2 * 2**20), max_mb=1)
    with pytest.raises(UserError, match=r"'sheet.xlsx' is not a table .* \.csv, \.tsv, \.jsonl"):
        uploads.save_upload("sheet.xlsx", b"PK")
    assert not any((fresh_home / "uploads").iterdir())


def test_inspect_table(fresh_home: Path) -> None:
    path = uploads.save_upload("g.csv", fx.GROUPED_CSV.encode())
    columns, head = uploads.table_columns(path)
    assert columns == ["text", "label", "group"] and len(head) == 5
    preview = uploads.inspect_table(path, "text", "label")
    assert preview.rows == 6
    assert preview.label_counts.to_dict("list") == {"label": ["pos", "neg"], "examples": [3, 3], "share": [0.5, 0.5]}
    with pytest.raises(UserError, match=r"No label column chosen\. .* \(its columns: text, label, group\)"):
        uploads.inspect_table(path, "text", None)
    with pytest.raises(UserError, match=r"has no rows"):
        uploads.table_columns(uploads.save_upload("e.csv", b""))


def test_build_config_from_an_upload(fresh_home: Path) -> None:
    path = uploads.save_upload("g.csv", fx.GROUPED_CSV.encode())
    data = DataChoice({"data": str(path), "text_col": "text", "label_col": "group"})
    form = FormResult(submitted=True, method="freeze", values={"max_steps": 3, "learning_rate": None},
                      options={"layers": 1})
    config = build_config(data, form)
    assert (config.data, config.dataset, config.label_col) == (str(path), None, "group")
    assert (config.method, config.method_options, config.max_steps) == ("freeze", {"layers": 1}, 3)
    with pytest.raises(UserError, match="Not launched: fix the learning rate above"):
        build_config(data, FormResult(submitted=True, method="full", errors={"Learning rate": "bad"}))


def test_the_queue_panel_sets_the_concurrency_the_cli_sees(fresh_home: Path) -> None:
    at = open_train()
    box = next(n for n in at.number_input if n.label == "Jobs at once")
    assert box.value == jobs.concurrency() == 1
    box.set_value(2).run()
    assert jobs.concurrency() == 2
    assert "Up to 2 job(s) run at once" in " ".join(c.value for c in at.caption)


def test_a_registered_dataset_brings_its_task(fresh_home: Path) -> None:
    """Choosing wnut16 on the page makes an NER config: the task is not a separate field to get wrong."""
    at = open_train()
    assert "train.task" not in {w.key for w in at.selectbox}
    at.selectbox(key="train.dataset").select("wnut16").run()
    assert "task: ner" in " ".join(c.value for c in at.caption)
    form = FormResult(submitted=True, method="lora", values={"max_steps": 3})
    config = build_config(DataChoice({"dataset": "wnut16", "task": "ner"}), form)
    assert (config.task, config.dataset, config.method) == ("ner", "wnut16", "lora")


def test_an_instruction_dataset_brings_the_sft_task_and_a_causal_lm(fresh_home: Path) -> None:
    at = open_train()
    assert at.selectbox(key="train.model").value == "minilm"
    at.selectbox(key="train.dataset").select("rotten_tomatoes_instructions").run()
    assert not at.exception, at.exception
    assert "task: sft" in " ".join(c.value for c in at.caption)
    assert at.selectbox(key="train.model.sft").value == "smollm2-135m"  # not the encoder, which cannot do sft
    form = FormResult(submitted=True, method="lora", values={"max_steps": 3, "model": "smollm2-135m"})
    config = build_config(DataChoice({"dataset": "rotten_tomatoes_instructions", "task": "sft"}), form)
    assert (config.task, config.model, config.batch_size, config.max_length) == ("sft", "smollm2-135m", 8, 256)


def test_several_datasets_make_a_multitask_config(fresh_home: Path) -> None:
    at = open_train()
    at.toggle(key="train.multitask").set_value(True).run()
    assert not at.exception, at.exception
    assert "--task multitask --dataset adult_text+rotten_tomatoes" in " ".join(c.value for c in at.caption)
    at.multiselect(key="train.members").set_value(["rotten_tomatoes"]).run()
    launch(at)
    assert any("two or more datasets" in e for e in errors(at)), errors(at)
    assert_nothing_started(fresh_home)
    form = FormResult(submitted=True, method="lora", values={"max_steps": 3})
    config = build_config(DataChoice({"dataset": "adult_text+rotten_tomatoes", "task": "multitask"}), form)
    assert (config.task, config.dataset) == ("multitask", "adult_text+rotten_tomatoes")
