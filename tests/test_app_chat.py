"""The Chat page (AppTest) on the session's real sft run: a prompt answered by the fine-tuned run and by the base
model side by side (the same greedy answers as `ftlab generate --compare`), the held-out answers, and a page
without sft runs."""

from __future__ import annotations

from conftest import open_page

TIMEOUT = 300


def markdown_of(at) -> list[str]:
    return [m.value for m in at.markdown]


def test_prompt_is_answered_by_the_run_and_the_base_model(sft_run: dict) -> None:
    from ftlab.generate import generate_for_run

    run_id = sft_run["run_id"]
    at = open_page("chat", timeout=TIMEOUT, run=run_id)
    assert at.selectbox(key="chat.run").value == run_id
    assert "exact match" in at.caption[0].value and "before → after" in at.caption[0].value
    at.number_input(key="chat.max_new_tokens").set_value(8)
    prompt = "Which colour is a lemon? Reply with the colour only."
    at = at.chat_input(key="chat.prompt").set_value(prompt).run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    expected = generate_for_run(run_id, prompt, max_new_tokens=8, compare=True)
    shown = markdown_of(at)
    assert shown.count(prompt) == 2  # the user's turn in both columns
    assert expected["response"] in shown and expected["base_response"] in shown

    # The conversation stays after a rerun, and clears on request.
    at = at.run(timeout=TIMEOUT)
    assert expected["response"] in markdown_of(at)
    at = at.button(key="chat.clear").click().run(timeout=TIMEOUT)
    assert prompt not in markdown_of(at)


def test_held_out_answers_tab_lists_the_test_chats(sft_run: dict) -> None:
    import ftlab

    at = open_page("chat", timeout=TIMEOUT, run=sft_run["run_id"])
    table, _ = ftlab.predictions(sft_run["run_id"], "test")
    [answers] = [frame.value for frame in at.dataframe]
    assert list(answers["predicted"]) == list(table["predicted"])
    at = at.toggle(key="chat.wrong_only").set_value(True).run(timeout=TIMEOUT)
    [answers] = [frame.value for frame in at.dataframe]
    assert len(answers) == int((~table["exact_match"]).sum())


def test_page_without_sft_runs_points_to_train(fresh_home) -> None:
    at = open_page("chat", timeout=TIMEOUT)
    assert "No finished instruction-tuned (sft) run yet" in at.info[0].value
