"""A progress bar with a Cancel button, for work that runs inside the page's script (explanations).

A click on Cancel makes Streamlit stop the running script at its next call, which is the next progress update:
the library reports after every batch of model calls, so the work stops within a batch. Whatever finished before
that is already in the run's cache.
"""

from __future__ import annotations

import streamlit as st

KEY = "cancelled"


def start(what: str, text: str):
    """Show a progress bar and a Cancel button for `what`; returns the bar."""
    st.session_state.pop(KEY, None)
    bar = st.progress(0.0, text=text)
    st.button("Cancel", key=f"cancel.{what}", on_click=st.session_state.__setitem__, args=(KEY, what))
    return bar


def notice(what: str, message: str) -> None:
    """After a cancel of `what`, say so (and what was kept)."""
    if st.session_state.get(KEY) == what:
        st.info(message)
