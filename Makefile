# Two commands do all the set-up on a fresh machine:
#   make app    install, then start the main job on the embedded defaults
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

# Until the workbench app lands, the main job is a real CLI fine-tune of the embedded model.
app: setup
	$(VENV)/bin/ftlab train --dataset rotten_tomatoes --method lora --epochs 1
	$(VENV)/bin/ftlab runs

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/train_throughput.py

clean:
	rm -rf $(VENV)
