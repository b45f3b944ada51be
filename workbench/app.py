"""The workbench: `streamlit run workbench/app.py`. Only a router; each page is a thin file in views/.

(Not `pages/`: Streamlit treats a folder of that name as an old-style multipage app, and a first visit straight to
a page's URL then bypasses this router.)
"""

import streamlit as st

st.set_page_config(page_title="ftlab workbench", page_icon=":material/science:", layout="wide")

pages = {
    "Fine-tune": [
        st.Page("views/train.py", title="Train", icon=":material/rocket_launch:", url_path="train", default=True),
        st.Page("views/runs.py", title="Runs", icon=":material/list:", url_path="runs"),
        st.Page("views/run.py", title="Run detail", icon=":material/monitoring:", url_path="run"),
        st.Page("views/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
    ],
    "Inspect": [
        st.Page("views/explain.py", title="Explain", icon=":material/psychology:", url_path="explain"),
        st.Page("views/fairness.py", title="Fairness", icon=":material/balance:", url_path="fairness"),
        st.Page("views/errors.py", title="Errors", icon=":material/error:", url_path="errors"),
        st.Page("views/entities.py", title="Entities", icon=":material/label:", url_path="entities"),
        st.Page("views/chat.py", title="Chat", icon=":material/chat:", url_path="chat"),
    ],
}
st.navigation(pages).run()
