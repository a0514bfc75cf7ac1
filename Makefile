# Two commands do all set-up: `make demo` and `make test` (both idempotent).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint fuzz fuzz-api bench bench-quick bench-robust bench-fidelity bench-icap clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(PY) -m hashsieve.cli.demo demo-output

lint: setup
	$(VENV)/bin/ruff check src tests bench fuzz
	$(VENV)/bin/ruff format --check src tests bench fuzz
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy src/hashsieve

test: setup
	$(VENV)/bin/ruff check src tests bench fuzz
	$(VENV)/bin/ruff format --check src tests bench fuzz
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest -q

# The parser fuzzers of fuzz/ (atheris), FUZZ_SECONDS each (default 300): ICAP, hash-set formats,
# archives, content, disk images. Finds go to fuzz/findings/ (fuzz/README.md); CI runs a short
# bounded pass (tests/fuzz/test_fuzz_short.py).
FUZZ_SECONDS ?= 300
fuzz: setup fuzz-api  # the parsers here, the API by fuzz-api below
	$(PY) -m fuzz.run --seconds $(FUZZ_SECONDS)

# schemathesis against a live `hashsieve serve` (tests/security/test_api_fuzz.py) with many more
# examples than CI; figures in bench/results/api-fuzz.json.
fuzz-api: setup
	HASHSIEVE_FUZZ_EXAMPLES=100 HASHSIEVE_FUZZ_REPORT=bench/results/api-fuzz.json \
		$(VENV)/bin/pytest -q tests/security/test_api_fuzz.py

bench: setup
	$(PY) bench/run.py

bench-quick: setup
	$(PY) bench/run.py --quick

bench-robust: setup
	$(PY) bench/robustness/run.py

# The scan's PDQ against pdqhash on 2,000 real photographs, per decode rule (docs/hash-definition.md).
bench-fidelity: setup
	$(PY) bench/fidelity/run.py

# The ICAP sensor through a real Squid (apt-get install squid; run as root): repeated pictures,
# then every body new.
bench-icap: setup
	$(PY) bench/icap.py
	cp bench/results/icap.json bench/results/icap-repeated.json
	$(PY) bench/icap.py --unique
	cp bench/results/icap.json bench/results/icap-unique.json

clean:
	rm -rf $(VENV) demo-output .pytest_cache .ruff_cache .mypy_cache
