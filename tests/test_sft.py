"""Instruction tuning of the embedded causal LM (SmolLM2-135M-Instruct): the real model, response-only loss
masking through the real collator, real LoRA steps, generation, and the adapter saved and reloaded."""

from __future__ import annotations

import json
import logging
import math
import re

import fixtures
import pytest
import torch

from ftlab.chat import IGNORE, check_messages, encode_chat
from ftlab.cli import main
from ftlab.errors import UserError


@pytest.fixture(scope="module")
def smollm2():
    from ftlab.models import load_tokenizer
    from ftlab.tasks import get_task

    task = get_task("sft")
    return task.load_model("smollm2-135m", []), task.prepare_tokenizer(load_tokenizer("smollm2-135m"))


def perplexity(model, tokenizer, text: str) -> float:
    batch = tokenizer(text, return_tensors="pt")
    with torch.inference_mode():
        return math.exp(model(**batch, labels=batch["input_ids"]).loss.item())


def test_embedded_model_is_the_real_smollm2(smollm2):
    model, tokenizer = smollm2
    assert type(model).__name__ == "LlamaForCausalLM" and model.config.num_hidden_layers == 30
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    real = perplexity(model, tokenizer, fixtures.PLAIN_ENGLISH)
    torch.manual_seed(0)
    random = perplexity(type(model)(model.config).eval(), tokenizer, fixtures.PLAIN_ENGLISH)
    assert real < 40 < 1000 < random  # measured: 13.2 for SmolLM2, ~6e4 for random weights
    assert "<|im_start|>assistant" in tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)


def test_only_the_assistant_turns_are_learned_through_the_real_collator(smollm2):
    from ftlab.tasks import get_task
    from ftlab.config import TrainConfig
    import pandas as pd

    _, tokenizer = smollm2
    task = get_task("sft")
    config = TrainConfig(task="sft", model="smollm2-135m")
    short = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey"}]
    frame = pd.DataFrame({"messages": [json.dumps(fixtures.SFT_CHAT), json.dumps(short)]})
    batch = task.collator(tokenizer, config)(list(task.encode(frame, tokenizer, config, []).remove_columns("length")))
    ids, labels = batch["input_ids"], batch["labels"]
    assert ids.shape == labels.shape and ids.shape[0] == 2
    # Every learned token is the token itself; everything else (system, user, headers, padding) is -100.
    learned = labels != IGNORE
    assert torch.equal(labels[learned], ids[learned])
    first = tokenizer.decode(ids[0][learned[0]])
    assert first == "Hello<|im_end|>\nGoodbye<|im_end|>\n"
    assert tokenizer.decode(ids[1][learned[1]]) == "Hey<|im_end|>\n"
    prompt_text = tokenizer.decode(ids[0][~learned[0]])
    for turn in fixtures.SFT_CHAT[:2] + fixtures.SFT_CHAT[3:4]:
        assert turn["content"] in prompt_text
    assert batch["attention_mask"][1].sum() < batch["attention_mask"][0].sum()  # the short chat was padded


def test_a_prompt_longer_than_the_context_is_cut_but_keeps_its_answer(smollm2, caplog):
    _, tokenizer = smollm2
    chat = [{"role": "user", "content": "word " * 400}, {"role": "assistant", "content": "positive"}]
    encoded = encode_chat(tokenizer, chat, max_length=64)
    assert encoded.truncated and len(encoded.input_ids) == 64
    assert tokenizer.decode([t for t, l in zip(encoded.input_ids, encoded.labels) if l != IGNORE]).startswith("positive")

    import pandas as pd

    from ftlab.config import TrainConfig
    from ftlab.tasks import get_task

    with caplog.at_level(logging.WARNING, logger="ftlab"):
        get_task("sft").encode(pd.DataFrame({"messages": [json.dumps(chat)]}), tokenizer,
                               TrainConfig(task="sft", model="smollm2-135m", max_length=64), [])
    assert "1 of 1 chats are longer than --max-length 64" in caplog.text


def test_lora_steps_lower_the_loss_and_score_answers_before_and_after(sft_run):
    metrics = sft_run["metrics"]
    assert sft_run["status"] == "finished" and sft_run["task"] == "sft"
    assert metrics["test_loss"] < metrics["test_base_loss"]  # 6 real LoRA steps on the colour chats
    assert metrics["test_perplexity"] == pytest.approx(math.exp(metrics["test_loss"]))
    for key in ("test_exact_match", "test_lenient_match", "test_base_exact_match", "eval_perplexity"):
        assert 0 <= metrics[key] <= (1 if "match" in key else math.inf)
    assert sft_run["param_counts"]["trainable"] < sft_run["param_counts"]["total"] / 100


def test_generation_from_the_run_returns_text(sft_run):
    from ftlab.generate import generate_for_run

    result = generate_for_run(sft_run["run_id"], fixtures.COLOUR_PROMPT.format(thing="lemon"), max_new_tokens=8,
                              compare=True)
    assert result["response"].strip() and result["base_response"].strip()


def test_the_adapter_is_saved_and_reloads_to_the_same_scores(sft_run):
    from ftlab.evaluate import _load_trained, predictions
    from ftlab.runs import run_dir

    folder = run_dir(sft_run["run_id"]) / "model"
    assert (folder / "adapter_model.safetensors").is_file() and not list(folder.glob("model*.safetensors"))
    assert json.loads((folder / "adapter_config.json").read_text())["task_type"] == "CAUSAL_LM"
    _load_trained.cache_clear()
    table, metrics = predictions(sft_run["run_id"], "test", refresh_cache=True)
    assert metrics["loss"] == pytest.approx(sft_run["metrics"]["test_loss"], rel=1e-4)
    assert metrics["loss"] < sft_run["metrics"]["test_base_loss"]  # the reloaded adapter, not the bare base model
    assert {"text", "gold", "predicted", "exact_match", "lenient_match", "kind"} <= set(table.columns)


def test_cli_generate_and_predict(sft_run, capsys):
    assert main(["generate", sft_run["run_id"], "--prompt", "Which colour is a carrot?", "--max-new-tokens", "5",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["response"] and "base_response" not in result
    # On a terminal the answer is written as it is generated, then its timing.
    assert main(["generate", sft_run["run_id"], "--prompt", "Which colour is a carrot?", "--max-new-tokens", "5"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"run {sft_run['run_id']}:\n{result['response']}")
    assert re.search(r"\n\(\d+\.\d s\)\n$", printed), printed
    assert main(["predict", sft_run["run_id"], "--text", "Which colour is a lime?", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["response"]


@pytest.mark.parametrize("content, problem", [
    (fixtures.SFT_MISSING_KEYS, "line 2 has no `prompt` and no `response`"),
    (fixtures.SFT_EMPTY_RESPONSE, "line 3: the assistant's answer is empty"),
    (fixtures.SFT_UNKNOWN_ROLE, "line 2: message 1 has the unknown chat role 'human'"),
    ('{"prompt": "Hi", "response": "Hello"}\n{"prompt": "Hi", "response": 3}\n', "line 2: `response` must be text"),
])
def test_bad_chat_files_name_the_line_and_the_fix(tmp_path, content, problem):
    from ftlab.data.chats import read_chat_file

    path = tmp_path / "chats.jsonl"
    path.write_text(content)
    with pytest.raises(UserError, match="chats.jsonl " + problem.replace("(", r"\(").replace("`", "`")):
        read_chat_file(path)


def test_chats_must_end_with_an_answer_after_a_user_turn():
    with pytest.raises(UserError, match="must end with the assistant's answer"):
        check_messages([{"role": "user", "content": "Hi"}], "chat 1")
    with pytest.raises(UserError, match="no user message before"):
        check_messages([{"role": "system", "content": "x"}, {"role": "assistant", "content": "Hi"}], "chat 1")


def test_cli_refuses_mismatched_models_runs_and_prompts(sft_run, trained_run, capsys):
    assert main(["train", "--task", "sft", "--model", "minilm", "--max-steps", "1"]) == 2
    assert "--model smollm2-135m for --task sft" in capsys.readouterr().err
    assert main(["train", "--model", "smollm2-135m", "--max-steps", "1"]) == 2
    assert "is for the sft task(s), not 'classification'" in capsys.readouterr().err
    assert main(["generate", trained_run["run_id"], "--prompt", "Hi"]) == 2
    assert "use `ftlab predict" in capsys.readouterr().err
    assert main(["generate", sft_run["run_id"], "--prompt", "  "]) == 2
    assert "The prompt is empty" in capsys.readouterr().err
    assert main(["generate", sft_run["run_id"], "--prompt", "Hi", "--max-new-tokens", "0"]) == 2
    assert "--max-new-tokens must be a whole number from 1" in capsys.readouterr().err
    assert main(["generate", "no-such-run", "--prompt", "Hi"]) == 2


def test_bitfit_on_a_model_without_biases_fails_with_the_fix(tmp_path, capsys):
    data = tmp_path / "colours.jsonl"
    data.write_text(fixtures.SFT_JSONL)
    assert main(["train", "--task", "sft", "--model", "smollm2-135m", "--method", "bitfit", "--data", str(data),
                 "--max-steps", "1", "--name", "sft-bitfit"]) == 2
    err = capsys.readouterr().err
    assert "bitfit trains only bias terms" in err and "--method lora" in err and "Traceback" not in err


def test_export_merges_the_adapter_for_a_text_generation_pipeline(sft_run, tmp_path, capsys):
    from transformers import pipeline

    from ftlab.generate import generate_for_run

    out = tmp_path / "export"
    assert main(["export", sft_run["run_id"], str(out), "--json"]) == 0
    assert not (out / "adapter_config.json").exists() and (out / "model.safetensors").is_file()
    prompt = fixtures.COLOUR_PROMPT.format(thing="carrot")
    chat = [{"role": "user", "content": prompt}]
    [answer] = pipeline("text-generation", model=str(out))(chat, max_new_tokens=6, do_sample=False)
    expected = generate_for_run(sft_run["run_id"], prompt, max_new_tokens=6)["response"]
    assert answer["generated_text"][-1]["content"].strip() == expected  # the merged weights answer as the run does
    # Serving labels and compressing an encoder do not apply to a causal LM: refused with what to do instead.
    assert main(["serve", sft_run["run_id"]]) == 2
    assert "ftlab generate" in capsys.readouterr().err
    assert main(["compress", sft_run["run_id"], "--int8"]) == 2
    assert "ftlab export" in capsys.readouterr().err


def test_packing_gives_the_padded_batch_loss_without_padding(smollm2):
    import pandas as pd

    from ftlab.config import TrainConfig
    from ftlab.tasks import get_task
    from ftlab.tasks.sft import loss_metrics, token_sums

    model, tokenizer = smollm2
    task = get_task("sft")
    lines = [json.loads(line) for line in fixtures.SFT_JSONL.splitlines()[::7]]
    chats = [[{"role": "user", "content": r["prompt"]}, {"role": "assistant", "content": r["response"]}] for r in lines]
    frame = pd.DataFrame({"messages": [json.dumps(chat) for chat in chats]})
    losses = {}
    for packing in (False, True):
        config = TrainConfig(task="sft", model="smollm2-135m", packing=packing)
        batch = task.collator(tokenizer, config)(list(task.encode(frame, tokenizer, config, []).remove_columns("length")))
        with torch.inference_mode():
            losses[packing] = loss_metrics(token_sums(model(**batch).logits, batch["labels"]).numpy())["loss"]
        shape = batch["input_ids"].shape
    assert shape[0] == 1 and shape[1] == sum(len(ids) for ids in task.encode(frame, tokenizer, config, [])["input_ids"])
    # Each chat attends only to itself: were the chats to see each other, the loss would fall (measured 3.03 -> 1.96).
    assert losses[True] == pytest.approx(losses[False], rel=1e-4)
    with pytest.raises(UserError, match="--packing packs chats, so it is for the sft task"):
        TrainConfig(packing=True)


def test_a_tokenizer_without_a_chat_template_gets_smollm2s_chatml(smollm2, caplog):
    import copy

    from ftlab.causal_lm import ensure_chat_template
    from ftlab.chat import render

    _, tokenizer = smollm2
    bare = copy.deepcopy(tokenizer)
    bare.chat_template, bare.pad_token = None, None
    with caplog.at_level(logging.WARNING, logger="ftlab"):
        ensure_chat_template(bare)
    assert "no chat template" in caplog.text and bare.pad_token == bare.eos_token
    assert render(bare, fixtures.SFT_CHAT) == render(tokenizer, fixtures.SFT_CHAT)  # the GGUF's own template
