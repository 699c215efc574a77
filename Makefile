# Every target creates .venv and installs the project first, so each works on a fresh machine.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
CORPUS  ?= $(or $(AISEC_RADAR_CORPUS),../shared/arxiv/corpus.jsonl.gz)
DB      ?= data/aisec-radar.duckdb
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run demo test test-fast bench lint browser-deps clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# The real thing: nightly crawl of arXiv (last 7 days on a fresh DB), then the dashboard.
run: $(STAMP)
	$(BIN)/aisec-radar nightly --db $(DB) --days 7 && $(BIN)/aisec-radar dashboard --db $(DB)

# Offline: the same job against the local arXiv stand-in serving the corpus, then the dashboard.
demo: $(STAMP)
	$(BIN)/aisec-radar demo --corpus $(CORPUS) --db data/demo.duckdb

browser-deps:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: browser tests will skip"

test: $(STAMP) browser-deps
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not browser"

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

lint: $(STAMP)
	$(BIN)/ruff check aisec_radar tests bench

clean:
	rm -rf $(VENV) .pytest_cache
