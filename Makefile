# archc developer tasks. `make demo` and `make test` work on a fresh machine with Python 3.10+.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
ARCHC  := $(VENV)/bin/archc
# The CPU build of torch; a plain `pip install torch` may pull a multi-gigabyte CUDA build.
TORCH  := torch==2.13.0
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu

.PHONY: demo test fuzz bench diagrams docs-errors lint graphviz clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $(TORCH) \
	  || $(PY) -m pip install -q torch --index-url $(TORCH_CPU_INDEX)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

graphviz:
	@sh scripts/ensure-graphviz.sh

demo: $(VENV)/.installed graphviz
	$(ARCHC) build architectures/lenet5.yaml -o build
	$(ARCHC) diagram architectures/lenet5.yaml -o build/lenet5.svg
	@echo
	@echo "Compiled model: build/LeNet5.py   Diagram: build/lenet5.svg (or build/lenet5.dot)"

test: $(VENV)/.installed graphviz
	$(PY) -m pytest

fuzz: $(VENV)/.installed
	ARCHC_FUZZ=long $(PY) -m pytest -s tests/test_fuzz_shapes.py tests/test_mutation_fuzz.py

bench: $(VENV)/.installed
	$(PY) benchmarks/run.py

diagrams: $(VENV)/.installed graphviz
	$(ARCHC) diagram architectures/lenet5.yaml -o docs/images/lenet5.svg

docs-errors: $(VENV)/.installed
	$(PY) scripts/errors_doc.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check archc tests benchmarks
	$(VENV)/bin/ruff format --check archc tests benchmarks

clean:
	rm -rf build .pytest_cache .hypothesis
