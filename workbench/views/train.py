"""Train: choose the data, the model and the method, then launch the fine-tune as a background job.

The form comes from the config dataclasses (components/config_form.py); validation, the queue and training are
`ftlab`'s, so the page only arranges them.
"""

import streamlit as st

from components.augment_choice import augmentation_choice
from components.config_form import data_source, launch, launched_message, method_choice, train_form
from components.job_queue import job_queue
from ftlab import jobs

st.title("Train")
st.caption("Runs go to the job queue and train in the background; follow them on the Runs page.")

st.subheader("Data")
data = data_source()

st.subheader("Augmentation")
augment = augmentation_choice(data)

st.subheader("Method and training")
method = method_choice()
form = train_form(method, gpus=jobs.gpu_count(), task=data.values.get("task"))
if form.submitted:
    launch(data, form, augment)
launched_message()

job_queue()
