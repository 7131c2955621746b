# Two commands on a fresh machine: `make demo` and `make test`.
# Each creates .venv when absent and installs what it needs. TORCH_SPEC is the torch requirement (CI pins a version:
# .ci/run). TORCH_INDEX, when set, is the package index torch alone is installed from; on a machine without a GPU,
# PyTorch's CPU wheels skip the multi-gigabyte CUDA download:
#   make test TORCH_INDEX=https://download.pytorch.org/whl/cpu
PYTHON ?= python3
TORCH_SPEC ?= torch
TORCH_INDEX ?=
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cnnlab-installed

.PHONY: demo test lint install clean

# The suite and the studies start many Python processes. Where the environment sets PYTHONDONTWRITEBYTECODE, each
# would compile every module it imports again (torch's alone take seconds of CPU); make's commands write the bytecode
# of what they import instead, once, into .venv and the source tree (git ignores both). That costs less than
# byte-compiling the whole environment at install (about 10,000 files, most of them never imported), so pip does not.
unexport PYTHONDONTWRITEBYTECODE

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-compile $(if $(TORCH_INDEX),--index-url "$(TORCH_INDEX)") "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet --no-compile -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# The main job, on embedded data and offline: every study's quick profile (claims about classic CNNs measured as
# seeded experiments with verdicts), then one self-contained HTML report, led by the committed verdicts of the
# reference run (results/reference: every study's full profile). Results are cached in DEMO_DIR, so a second
# `make demo` only renders the report again; remove DEMO_DIR to measure everything anew.
DEMO_DIR ?= runs/demo
DEMO_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
demo: $(STAMP)
	$(BIN)/cnnlab summary bottleneck basic_block --input 256,56,56 --norm none --no-bias
	$(BIN)/cnnlab study run all --profile quick --jobs $(DEMO_JOBS) --out $(DEMO_DIR)/studies \
		--report $(DEMO_DIR)/report.html --reference results/reference

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# pytest exits 5 when it collects no test; make treats any non-zero status as failure. cnnlab is byte-compiled first,
# on every core, so that the processes the suite starts at once (its first commands) do not each compile it.
test: lint
	$(BIN)/python -m compileall -q -j 0 cnnlab
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
