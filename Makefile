# The two commands: `make demo` runs the main job, `make test` runs the whole suite.
# `make test` builds .venv (every extra and the development tools), `make demo` builds .venv-demo (only what
# the demo needs: sedna_lib with its server extra); Python and make are all they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_VENV := .venv-demo
FIND_LINKS := $(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null)
UV_FLAGS := --quiet --compile-bytecode $(foreach d,$(FIND_LINKS),--find-links $(d))
# The demo's environment skips compiling every installed module ahead (most of its install time): the
# modules the demo imports are compiled as it first imports them.
DEMO_UV_FLAGS := --quiet $(foreach d,$(FIND_LINKS),--find-links $(d))
EXTRAS ?= all,dev

.PHONY: demo test lint docs dist venv clean system-deps example-joint-inference example-federated-learning \
	example-incremental-learning example-lifelong-learning example-multi-edge-inference example-pipeline \
	example-llm-joint-inference

venv: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --python $(BIN)/python $(UV_FLAGS) -e '.[$(EXTRAS)]'
	touch $@

$(DEMO_VENV)/.installed: setup.cfg pyproject.toml
	test -x $(DEMO_VENV)/bin/python || $(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv
	$(DEMO_VENV)/bin/uv pip install --python $(DEMO_VENV)/bin/python $(DEMO_UV_FLAGS) -e '.[server,sklearn]'
	touch $@

demo: $(DEMO_VENV)/.installed
	$(DEMO_VENV)/bin/python -m sedna_lib.demo

# The site's diagrams are drawn by Graphviz and the browser test drives Chromium: both come from Debian,
# installed here where make runs as root with apt-get; elsewhere a line says what is missing.
system-deps:
	@missing=""; \
	command -v dot >/dev/null 2>&1 || missing="$$missing graphviz"; \
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing="$$missing chromium"; \
	[ -d /usr/share/fonts/truetype/dejavu ] || missing="$$missing fonts-dejavu-core"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing) \
	    || echo "could not install$$missing: the site's diagrams need graphviz, the browser test chromium"; \
	else echo "not installed:$$missing (the site's diagrams need graphviz; the browser test, skipped without it, chromium)"; fi

# One math thread per process: the suite runs many small models and worker processes side by side.
# Three pytest workers (pytest-xdist), each taking whole test files: much of the suite waits on servers,
# sockets and worker processes, so more workers than cores fill that time (on 2 cores, 3 workers ran the
# suite in 269 s where 2 took 309 s; `make test TEST_WORKERS=0` runs it in one process).
# Bytecode is cached (PYTHONDONTWRITEBYTECODE unset for the run): the suite starts a few hundred Python
# processes, which then compile the library once rather than each on its own.
TEST_WORKERS ?= 3
test: venv system-deps
	PYTHONDONTWRITEBYTECODE= OMP_NUM_THREADS=1 $(BIN)/python -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

lint: venv
	$(BIN)/flake8 sedna_lib algorithms sedna

docs: venv system-deps
	$(BIN)/uv pip install --python $(BIN)/python $(UV_FLAGS) -e '.[docs]'
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The examples, each run on one machine with every worker on 127.0.0.1 (examples/<name>/README.md).
EXAMPLE_PYTHON = PYTHON=$(CURDIR)/$(BIN)/python

example-joint-inference: venv
	$(EXAMPLE_PYTHON) bash examples/joint_inference/run.sh

example-federated-learning: venv
	$(EXAMPLE_PYTHON) bash examples/federated_learning/run.sh

example-incremental-learning: venv
	$(EXAMPLE_PYTHON) bash examples/incremental_learning/run.sh

example-lifelong-learning: venv
	$(EXAMPLE_PYTHON) bash examples/lifelong_learning/run.sh

example-llm-joint-inference: venv
	$(EXAMPLE_PYTHON) bash examples/llm_joint_inference/run.sh

example-multi-edge-inference: venv
	cd examples/multi_edge_inference && $(CURDIR)/$(BIN)/python synthetic_cameras.py

example-pipeline: venv
	cd examples/pipeline && $(CURDIR)/$(BIN)/python custom_joint_inference.py

# A wheel and a source archive in dist/, for installs outside the clone (see docs/getting-started.md).
dist: venv
	rm -rf dist build
	$(BIN)/python -m build --outdir dist .

clean:
	rm -rf $(VENV) $(DEMO_VENV) build dist *.egg-info site
