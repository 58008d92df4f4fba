# The two commands: `make demo` runs the main job, `make test` runs the whole suite.
# Both build .venv at the repository root first (Python and make are all they need).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FIND_LINKS := $(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null)
UV_FLAGS := --quiet --compile-bytecode $(foreach d,$(FIND_LINKS),--find-links $(d))
EXTRAS ?= all,dev

.PHONY: demo test lint docs venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --python $(BIN)/python $(UV_FLAGS) -e '.[$(EXTRAS)]'
	touch $@

demo: venv
	$(BIN)/python -m sedna_lib.demo

# One math thread per process: the suite runs many small models and worker processes side by side.
test: venv
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest

lint: venv
	$(BIN)/flake8 sedna_lib algorithms sedna

docs: venv
	$(BIN)/uv pip install --python $(BIN)/python $(UV_FLAGS) -e '.[docs]'
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) build dist *.egg-info site
