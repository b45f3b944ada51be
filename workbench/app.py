"""The workbench: `streamlit run workbench/app.py`. Only a router; each page is a thin file in pages/."""

import streamlit as st

st.set_page_config(page_title="ftlab workbench", page_icon="🧪", layout="wide")

pages = {
    "Fine-tune": [
        st.Page("pages/train.py", title="Train", icon="🚀", url_path="train", default=True),
        st.Page("pages/runs.py", title="Runs", icon="📋", url_path="runs"),
        st.Page("pages/run_detail.py", title="Run detail", icon="📈", url_path="run"),
        st.Page("pages/compare.py", title="Compare", icon="⚖️", url_path="compare"),
    ],
}
st.navigation(pages).run()
