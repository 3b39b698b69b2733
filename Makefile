# Quick start: `make demo` then `make test`. Both create .venv on first use and reuse it after.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.humanalign-installed
TORCH_PIN := torch==2.14.1 torchvision==0.29.1
DEMO_OUT ?= demo_out

.PHONY: venv demo test lint bench clean browser

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH_PIN)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(PY) experiments/demo.py --out $(DEMO_OUT)

lint: venv
	$(PY) -m ruff check humanalign tests experiments bench analysis stimuli examples

# headless Chromium for the report's browser test (tests/test_report_browser.py); idempotent, never fatal:
# without it (no root, no network) that test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 \
		|| echo "chromium not installed: the report browser test will skip"

# two workers (one per core), whole files per worker so module fixtures are built once
test: venv lint browser
	$(PY) -m pytest -q -n 2 --dist loadfile

bench: venv
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .ruff_cache
