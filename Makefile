# Two commands on a fresh machine: `make demo` and `make test`.
# Each creates .venv when absent and installs what it needs. The torch requirement comes from TORCH_SPEC so that
# CI (and machines without a GPU) can pin a CPU build: `make test TORCH_SPEC=torch==2.13.0`.
PYTHON ?= python3
TORCH_SPEC ?= torch
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cnnlab-installed

.PHONY: demo test lint install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# The main job on embedded data: LeNet-5 on the 8×8 digits, a small CNN on procedural shapes, then a results table.
DEMO_DIR ?= runs/demo
demo: $(STAMP)
	$(BIN)/cnnlab models
	$(BIN)/cnnlab summary bottleneck basic_block --input 256,56,56 --norm none --no-bias
	rm -rf $(DEMO_DIR)
	$(BIN)/cnnlab train lenet5 --data digits --optimizer adam --lr 3e-3 --epochs 15 --act relu --kw pool=max \
		--out $(DEMO_DIR)/lenet5-digits
	$(BIN)/cnnlab train small_cnn --data shapes --kw convs=2 --optimizer adam --lr 3e-3 --epochs 8 \
		--augment crop:2,flip --out $(DEMO_DIR)/small_cnn-shapes
	$(BIN)/cnnlab results $(DEMO_DIR)/lenet5-digits $(DEMO_DIR)/small_cnn-shapes

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# pytest exits 5 when it collects no test; make treats any non-zero status as failure.
test: lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
