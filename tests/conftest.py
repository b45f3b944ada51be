"""Shared fixtures: an isolated workbench home per test session, the embedded assets, one trained run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[1]
SHARED_ASSETS = CHECKOUT / "data" / "assets"
"""Filled once by `ftlab assets fetch`; every test home links to it instead of extracting 200 MB again."""

sys.path.insert(0, str(Path(__file__).parent))  # `import fixtures`
sys.path.insert(0, str(CHECKOUT / "workbench"))  # `import components`, as `streamlit run workbench/app.py` allows


def make_home(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    SHARED_ASSETS.mkdir(parents=True, exist_ok=True)
    if not (root / "assets").exists():
        (root / "assets").symlink_to(SHARED_ASSETS, target_is_directory=True)
    return root


@pytest.fixture(scope="session", autouse=True)
def ftlab_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = make_home(tmp_path_factory.mktemp("ftlab_home"))
    os.environ["FTLAB_HOME"] = str(home)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return home


@pytest.fixture(scope="session")
def trained_run(ftlab_home: Path) -> dict:
    """One small but real full fine-tune, shared by the tests that need a trained model."""
    import ftlab

    return ftlab.train(ftlab.TrainConfig(
        dataset="rotten_tomatoes", method="full", train_size=256, eval_size=64, max_steps=24, eval_steps=12,
        save_steps=12, log_steps=4, name="session-full",
    ), progress=False)


@pytest.fixture(scope="session")
def adult_runs(ftlab_home: Path) -> dict[str, str]:
    """Two small real fine-tunes on adult_text with the same budget, plain and with the demographic-parity penalty
    on `sex`; each scores an 800-row test sample at the end. Shared by the fairness, CLI and app tests."""
    import ftlab

    budget = {"dataset": "adult_text", "method": "lora", "train_size": 256, "eval_size": 64, "test_size": 800,
              "max_steps": 8, "eval_steps": 8, "save_steps": 8, "log_steps": 4}
    plain = ftlab.train(ftlab.TrainConfig(**budget, name="adult-plain"), progress=False)
    mitigated = ftlab.train(ftlab.TrainConfig(**budget, sensitive_col="sex", mitigation="dp-penalty",
                                              name="adult-dp"), progress=False)
    return {"plain": plain["run_id"], "dp": mitigated["run_id"]}


@pytest.fixture(scope="session")
def ner_runs(ftlab_home: Path) -> dict[str, dict]:
    """Two tiny real NER fine-tunes on wnut16 (full and lora, 6 steps, an evaluation every 3), shared by the NER
    training and app tests."""
    import ftlab

    return {method: ftlab.train(ftlab.TrainConfig(
        task="ner", dataset="wnut16", method=method, train_size=96, eval_size=32, test_size=48, max_steps=6,
        eval_steps=3, save_steps=6, log_steps=3, name=f"ner-{method}"), progress=False) for method in ("full", "lora")}


@pytest.fixture()
def fresh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of its own for tests that count runs or break things; cwd is an empty folder beside it."""
    home = make_home(tmp_path / "home")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.setenv("FTLAB_HOME", str(home))
    monkeypatch.chdir(cwd)
    return home


def open_page(view: str, timeout: float = 300, **query: str):
    """The app through its router, switched to `workbench/views/<view>.py` with `query`, after a first run."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(CHECKOUT / "workbench" / "app.py"), default_timeout=timeout)
    at.switch_page(f"views/{view}.py")
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture(scope="session")
def sft_run(ftlab_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One tiny real LoRA instruction tune of the embedded causal LM (SmolLM2) on the fixed colour chats: 6 steps,
    held-out answers generated before and after. Shared by the sft, CLI and app tests."""
    import fixtures

    import ftlab

    data = tmp_path_factory.mktemp("sft") / "colours.jsonl"
    data.write_text(fixtures.SFT_JSONL)
    return ftlab.train(ftlab.TrainConfig(
        task="sft", model="smollm2-135m", method="lora", data=str(data), max_steps=6, eval_steps=3, save_steps=6,
        log_steps=3, max_new_tokens=6, name="sft-colours"), progress=False)
