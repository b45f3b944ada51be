# Two commands do all the set-up on a fresh machine:
#   make app    install, then start the workbench app (http://localhost:8501)
#   make test   install, then run the whole test suite
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE ?= 1

.PHONY: setup app test bench clean
setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	$(VENV)/bin/ftlab assets fetch
	touch $@

# The workbench, on http://localhost:8501 (bound to this machine only, see .streamlit/config.toml).
app: setup
	$(VENV)/bin/streamlit run workbench/app.py

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/train_throughput.py
	$(PY) bench/app_latency.py
	$(PY) bench/slices_speed.py
	$(PY) bench/fairness_mitigation.py

clean:
	rm -rf $(VENV)
