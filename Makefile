# Two commands on a fresh clone (see README.md):
#   make book   install everything, then build the HTML book with every chapter executed
#   make test   lint, unit tests, browser tests of the built book, and nbval on every chapter
# Offline, point the data layer at a mirror first: export CONVNETS_DATA=../shared/data

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
LINT_DIR := _build/lint

# Chapters execute in book/, so a relative mirror path is made absolute here.
ifdef CONVNETS_DATA
export CONVNETS_DATA := $(abspath $(CONVNETS_DATA))
endif

.PHONY: book test install lint browser notebooks references clean

# tools/execute_chapters.py runs the chapters two at a time into Jupyter Book's execution
# cache; the build then renders them (and executes any chapter that script did not store).
book: $(INSTALLED)
	$(BIN)/python -m lib.data check
	$(BIN)/python tools/execute_chapters.py --jobs 2
	$(BIN)/jupyter-book build --warningiserror --nitpick --keep-going .

# nbval checks the chapters against the offline build's references (CI budget,
# EfficientNet-Lite0), so it runs them that way on any machine, with a GPU or internet
# access too; tests/test_vgg16_path.py checks tests/reference/vgg16/ (smoke budget) itself.
# Two workers (--dist loadfile keeps each file, so each notebook's cells, in one kernel):
# most tests use one core. Without reordering, the VGG16 rehearsal (tests/conftest.py puts it
# first) runs beside the rest instead of after them.
test: $(INSTALLED) lint browser
	CONVNETS_BUDGET=ci CONVNETS_BASE=efficientnet_lite0 $(BIN)/pytest --nbval --nbval-current-env \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg --ignore=tests/reference/vgg16 \
	  --numprocesses 2 --dist loadfile --no-loadscope-reorder tests

install: $(INSTALLED)

# Compiled once, on every core: where PYTHONDONTWRITEBYTECODE is set (as on the machine this
# book is built on) no process writes the bytecode it compiles, so each kernel and subprocess
# of the build and the tests compiled TensorFlow, Keras and SciPy again (~8 s of CPU each).
# pip would compile the same files on one core.
$(INSTALLED): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-compile --disable-pip-version-check -r requirements.txt -e .
	$(BIN)/python -m compileall -qq -j 0 "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
	touch $@

# Ruff checks the library, the tests, the tools and the chapters' code cells.
lint: $(INSTALLED)
	$(BIN)/ruff check lib tests tools
	$(BIN)/ruff format --check lib tests tools
	rm -rf $(LINT_DIR) && mkdir -p $(LINT_DIR)
	for chapter in book/*.md; do \
	  $(BIN)/jupytext --quiet --to ipynb --output $(LINT_DIR)/$$(basename $$chapter .md).ipynb $$chapter || exit 1; \
	done
	$(BIN)/ruff check --extend-ignore E402,I001 $(LINT_DIR)

# tests/test_browser.py drives Debian's Chromium (Playwright downloads no browser);
# CHROMIUM=/path/to/chrome uses another Chromium-based browser instead.
export CHROMIUM ?= /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	test -x $(CHROMIUM) || { $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

# Colab and Binder open book/NAME.ipynb: rewrite them after changing a chapter.
notebooks: $(INSTALLED)
	$(BIN)/python tools/colab_notebooks.py

# Re-execute the chapters and rewrite tests/reference/*.ipynb; review the diff.
# ARGS="--base vgg16" rewrites tests/reference/vgg16/*.ipynb (chapters 6-8 on VGG16 stand-ins).
references: $(INSTALLED)
	$(BIN)/python tools/update_references.py $(ARGS)

clean:
	rm -rf _build
