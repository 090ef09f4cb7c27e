# archc developer tasks. `make demo` and `make test` work on a fresh machine with Python 3.10+.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
ARCHC  := $(VENV)/bin/archc

.PHONY: demo test fuzz bench train-demo diagrams docs-errors lint graphviz no-torch clean

# PyTorch's CPU build first (scripts/install-torch.sh): a plain `pip install torch` may pull a
# multi-gigabyte CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	sh scripts/install-torch.sh $(PY)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

graphviz:
	@sh scripts/ensure-graphviz.sh

demo: $(VENV)/.installed graphviz
	$(ARCHC) build architectures/lenet5.yaml -o build
	$(ARCHC) diagram architectures/lenet5.yaml -o build/lenet5.svg
	@echo
	@if command -v dot >/dev/null 2>&1; then diagram=build/lenet5.svg; else diagram=build/lenet5.dot; fi; \
	  echo "Wrote build/LeNet5.py (the model) and $$diagram (its diagram)"

test: $(VENV)/.installed graphviz
	$(PY) -m pytest

fuzz: $(VENV)/.installed
	ARCHC_FUZZ=long $(PY) -m pytest -n 0 -s tests/test_fuzz_shapes.py tests/test_mutation_fuzz.py

bench: $(VENV)/.installed
	$(PY) benchmarks/run.py
	$(PY) benchmarks/train_bench.py

# LeNet-5 on the bundled digits with the default recipe (expect at least 99% held out), then
# its evaluation; the files land in runs/LeNet5/.
train-demo: $(VENV)/.installed
	$(ARCHC) train architectures/lenet5.yaml --out runs/LeNet5
	$(ARCHC) evaluate architectures/lenet5.yaml --weights runs/LeNet5/checkpoint.pt

diagrams: $(VENV)/.installed graphviz
	$(ARCHC) diagram architectures/lenet5.yaml -o docs/images/lenet5.svg

docs-errors: $(VENV)/.installed
	$(PY) scripts/errors_doc.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check archc tests benchmarks
	$(VENV)/bin/ruff format --check archc tests benchmarks

# archc without torch, in a venv of its own: the static verbs over the whole zoo.
no-torch:
	sh scripts/check-without-torch.sh $(PYTHON)

clean:
	rm -rf build .pytest_cache .hypothesis
