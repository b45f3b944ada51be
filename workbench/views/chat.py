"""Chat: talk to an instruction-tuned (sft) run, its answers streamed token by token, beside the base model's
answer to the same prompt; and the run's held-out answers, before and after fine-tuning."""

import pandas as pd
import streamlit as st

import ftlab
from ftlab.errors import UserError
from ftlab.generate import base_model, causal_run, check_chat, stream_answer

from components.run_picker import finished_run


@st.cache_resource(max_entries=2, show_spinner="Loading the model…")
def chat_model(run_id: str):
    return causal_run(run_id)


@st.cache_data(max_entries=8, show_spinner="Generating the test answers…")
def test_predictions(run_id: str) -> tuple[pd.DataFrame, dict[str, float]]:
    return ftlab.predictions(run_id, "test")


def scores_caption(metrics: dict[str, float]) -> str:
    parts = [f"test perplexity {metrics['test_base_perplexity']:.2f} → {metrics['test_perplexity']:.2f}"
             if "test_base_perplexity" in metrics else ""]
    for name in ("exact_match", "lenient_match"):
        if f"test_{name}" in metrics:
            before = metrics.get(f"test_base_{name}")
            shown = f"{before:.3f} → " if before is not None else ""
            parts.append(f"{name.replace('_', ' ')} {shown}{metrics[f'test_{name}']:.3f}")
    return " · ".join(p for p in parts if p) + " (before → after fine-tuning)"


def show_history(history: list[dict[str, str]], side: str) -> None:
    for message in history:
        with st.chat_message(message["role"]):
            st.markdown(message.get(side, "*(not asked)*") if message["role"] == "assistant" else message["content"])


st.title("Chat")
run_id = finished_run("chat", task="sft")
record = ftlab.summary(run_id)
st.caption(f"{record['method']} on {record['model']} · {record['dataset']} · " + scores_caption(record["metrics"]))

with st.sidebar:
    max_new_tokens = st.number_input("Max new tokens", 1, 1024, 128, 16, key="chat.max_new_tokens")
    temperature = st.slider("Temperature", 0.0, 2.0, 0.0, 0.1, key="chat.temperature",
                            help="0 takes the likeliest token each time (the same answer every time)")
    compare = st.toggle("Compare with the base model", True, key="chat.compare",
                        help="Answer each prompt twice: with the fine-tuned run and with the model before it")
    system = st.text_input("System message (optional)", key="chat.system")

chat_tab, answers_tab = st.tabs(["Chat", "Held-out answers"])
with chat_tab:
    # One list of turns per run; an assistant turn holds both models' answers ("tuned", "base").
    history = st.session_state.setdefault(f"chat.history.{run_id}", [])
    if st.button("Clear the conversation", key="chat.clear", disabled=not history):
        history.clear()
    model, tokenizer, config = chat_model(run_id)
    sides = [("tuned", "Fine-tuned run")] + ([("base", "Base model, before fine-tuning")] if compare else [])
    columns = st.columns(len(sides))
    for column, (side, title) in zip(columns, sides):
        with column:
            st.subheader(title)
            show_history(history, side)
    prompt = st.chat_input("Ask the fine-tuned model…", key="chat.prompt")
    if prompt:
        prior = [{"role": "system", "content": system}] if system.strip() else []
        answers = {}
        try:
            for column, (side, _) in zip(columns, sides):
                chat = check_chat(prior + [{"role": m["role"], "content": m.get(side) or m.get("tuned", "")}
                                           if m["role"] == "assistant" else m for m in history]
                                  + [{"role": "user", "content": prompt}])
                generator = base_model(run_id) if side == "base" else model
                with column:
                    with st.chat_message("user"):
                        st.markdown(prompt)
                    with st.chat_message("assistant"):
                        answers[side] = st.write_stream(stream_answer(
                            generator, tokenizer, chat, max_new_tokens=int(max_new_tokens),
                            temperature=float(temperature), max_length=None,
                            base=side == "base" and generator is model))
        except UserError as exc:
            st.error(str(exc))
        else:
            history += [{"role": "user", "content": prompt}, {"role": "assistant", **answers}]

with answers_tab:
    table, metrics = test_predictions(run_id)
    shown = table
    if "exact_match" in table and st.toggle("Wrong answers only", key="chat.wrong_only"):
        shown = table[~table["exact_match"]]
    columns = [c for c in ("text", "gold", "predicted", "exact_match", "lenient_match") if c in shown]
    st.dataframe(shown[columns], hide_index=True, key="chat.answers")
    st.caption(f"{len(shown):,} of {len(table):,} held-out chats, answered greedily (at most "
               f"{config.max_new_tokens} new tokens)")
