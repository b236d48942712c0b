# Two commands for a newcomer: `make demo` and `make test`. Each builds .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test bench lint clean

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch for the PyTorch-model tests: pinned first, the CPU build held locally (an unpinned
	# torch would pull a CUDA build of several GB); it satisfies the extra coded-runtime[torch]
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[test,plot]"
	touch $(BIN)/activate

demo: $(BIN)/activate
	$(BIN)/python examples/demo.py

test: $(BIN)/activate
	$(BIN)/ruff check coded workers scheduler tests benchmarks examples
	$(BIN)/python -m pytest -q

bench: $(BIN)/activate
	$(BIN)/python benchmarks/codes.py
	$(BIN)/python benchmarks/straggler_matmul.py
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/emulated_cluster.py
	$(BIN)/python benchmarks/robustness.py
	$(BIN)/python benchmarks/hardening.py
	$(BIN)/python benchmarks/general.py
	cd benchmarks && ../$(BIN)/python berrut_accuracy.py
	$(BIN)/python benchmarks/second_order.py
	$(BIN)/python benchmarks/saddle.py
	$(BIN)/python benchmarks/power.py
	$(BIN)/python benchmarks/network.py
	$(BIN)/python benchmarks/time_to_loss.py
	$(BIN)/python benchmarks/training.py

lint: $(BIN)/activate
	$(BIN)/ruff check coded workers scheduler tests benchmarks examples
	$(BIN)/ruff format --check coded workers scheduler tests benchmarks examples

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
