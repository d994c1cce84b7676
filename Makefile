# prepay — every target bootstraps .venv itself; a second run reinstalls nothing.
#   make demo   the main job on built-in defaults (simulated meter, SQLite station)
#   make demo-online  the same meter topped up over MQTT (Mosquitto: apt-get install mosquitto)
#   make test   the whole suite: lint, mpy-cross, pyright, pytest, MicroPython tests
#   make bench  benchmarks that print figures
#   make firmware  the 32-bit interpreter, meter frozen in, from ../shared/micropython (SHARED=...)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
# Sources that run on the meter: compiled with mpy-cross so syntax the board rejects fails here.
MPY_SRC ?= firmware token_spec

.PHONY: all demo demo-online test bench lint compile typecheck pytest mptest firmware clean mplib
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
	$(BIN)/prepay demo --keep .demo-station

demo-online: $(DEMO_EXTRAS) mplib
	$(BIN)/prepay demo --online

test: $(TEST_EXTRAS) mplib
	$(MAKE) --no-print-directory lint compile typecheck firmware pytest mptest

lint: $(TEST_EXTRAS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# MicroPython libraries from PyPI (umqtt.simple, pinned in host_tools/build/mplib.py): a file
# target, so the frozen interpreter (which freezes it) is rebuilt only when it changes.
MPLIB := build/mplib/umqtt/simple.py
mplib: $(MPLIB)

$(MPLIB): host_tools/build/mplib.py | $(DEMO_EXTRAS)
	$(PY) -m host_tools.build.mplib
	touch $@

compile: $(TEST_EXTRAS) mplib
	$(PY) -m host_tools.build.mpy $(MPY_SRC) build/mplib

typecheck: $(TEST_EXTRAS)
	$(BIN)/pyright -p pyrightconfig.json

# Tests that read shared/ directly (the ESP32 partition tables) find it where `make firmware` does.
# PYTEST_WORKERS processes share the tests (pytest-xdist): each starts its own PostgreSQL,
# Mosquitto and Chromium as it needs them. PYTEST_WORKERS=0 runs them in this one process.
PYTEST_WORKERS ?= 3
pytest: $(TEST_EXTRAS)
	PREPAY_SHARED=$(abspath $(SHARED)) $(PY) -m pytest -n $(PYTEST_WORKERS)

# The shared tests keep whole fault-injection traces in memory (not the app: its heap is
# tests/sim/test_sim_heap_cli.py's job), so they get more than the 2 MiB default heap.
mptest: $(TEST_EXTRAS)
	PREPAY_EXPECT_IMPL=micropython $(BIN)/micropython -X heapsize=4M tests/mp_runner.py tests/shared

# ---- 32-bit interpreters (issue 17) ------------------------------------------------------------
# MicroPython's source, trimmed to the unix port and mpy-cross, beside the checkout (CI: a fresh
# clone with shared/ next to it). The steps are host_tools/build/interpreter.py; the stamps and
# dependencies here make a second `make firmware` with nothing changed run nothing.
#   build/micropython-unix32           the meter frozen in (firmware/manifest.py): `make firmware`
#   build/micropython-unix32-nofrozen  asyncio only, the meter loaded from .mpy: for `make bench`
#                                      (bench/firmware.py) only, which saves `make test` a build
# ../shared; a git worktree (git worktree add) also looks beside its main checkout.
MAIN_CHECKOUT := $(patsubst %/.git,%,$(shell git rev-parse --path-format=absolute \
                   --git-common-dir 2>/dev/null))
SHARED     ?= $(firstword $(wildcard ../shared $(MAIN_CHECKOUT)/../shared) ../shared)
MP_VERSION := 1.28.0
MP_TARBALL ?= $(SHARED)/micropython/micropython-$(MP_VERSION)-min.tar.gz
MP_SRC     ?= build/micropython-$(MP_VERSION)
MP_STEP    := $(PYTHON) -m host_tools.build.interpreter
MP_TOOLS   := host_tools/build/interpreter.py $(MP_SRC)/mpy-cross/build/mpy-cross
FROZEN_SRC := $(shell find firmware token_spec -name '*.py' -not -path '*/vectors/*' \
                -not -path '*/__pycache__/*' 2>/dev/null)

firmware: mplib build/micropython-unix32

# The manifest freezes umqtt from build/mplib too (the networked meter's MQTT client).
build/micropython-unix32: firmware/manifest.py $(FROZEN_SRC) $(MPLIB) $(MP_TOOLS)
	$(MP_STEP) unix $(MP_SRC) firmware/manifest.py $@

build/micropython-unix32-nofrozen: host_tools/build/asyncio_manifest.py $(MP_TOOLS)
	$(MP_STEP) unix $(MP_SRC) host_tools/build/asyncio_manifest.py $@

ifeq ($(MP_SRC),build/micropython-$(MP_VERSION))
MP_SOURCE := $(MP_SRC)/.unpacked
$(MP_SOURCE): $(MP_TARBALL)
	$(MP_STEP) unpack $(MP_TARBALL) build

# No rule can make the tarball: say what is missing and how to get it.
$(MP_TARBALL):
	@$(MP_STEP) missing $(MP_TARBALL)
else
MP_SOURCE := $(MP_SRC)/py/mpconfig.h  # a clone given as MP_SRC=...: its files are the source
endif

$(MP_SRC)/mpy-cross/build/mpy-cross: $(MP_SOURCE)
	$(MP_STEP) mpy-cross $(MP_SRC)
	touch $@

bench: $(BENCH_EXTRAS) build/micropython-unix32 build/micropython-unix32-nofrozen
	@for f in bench/[!_]*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) build
