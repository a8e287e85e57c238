# Orbit GUI: `make run` opens the app, `make test` runs everything against real servers.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run test lint typecheck package bench bench-s3 clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# An editable install leaves no bytecode of orbit_gui, and with PYTHONDONTWRITEBYTECODE
# set every start would compile its modules again (~50 ms): compile them, as pip does
# for an installed wheel.
$(VENV)/.installed-app: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	$(PY) -m compileall -q orbit_gui
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m compileall -q orbit_gui
	touch $@ $(VENV)/.installed-app

## run: set everything up and open the app on the local file system
run: $(VENV)/.installed-app
	scripts/system-deps.sh run
	$(PY) -m orbit_gui $(ARGS)

## test: install what the tests need, start the real servers, run lint, types and the suite
test: $(VENV)/.installed-test
	scripts/system-deps.sh test
	$(MAKE) --no-print-directory lint typecheck
	scripts/test-session.sh $(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check orbit_gui tests bench packaging

typecheck: $(VENV)/.installed-test
	$(VENV)/bin/mypy orbit_gui

## package: build a one-folder app with PyInstaller (dist/orbit-gui/) and smoke-test it
package: $(VENV)/.installed-app
	scripts/system-deps.sh run
	packaging/build.sh

## bench: the whole benchmark suite against its own real servers (ARGS=--quick: a few
## minutes); writes bench/results/latest.md and latest.json
bench: $(VENV)/.installed-test
	scripts/system-deps.sh test
	scripts/test-session.sh $(PY) -m bench.run_all $(ARGS)

## bench-s3: orbit vs the aws CLI vs rclone against one `rclone serve s3` (ARGS="--size 256MiB")
bench-s3: $(VENV)/.installed-test
	$(PY) -m bench.bench_s3 $(ARGS)

clean:
	rm -rf build dist .mypy_cache .ruff_cache .pytest_cache
