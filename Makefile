# Tsela: `make run` serves the demo on 127.0.0.1:5000, `make test` runs every test.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app tip_cases
STAMP := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium

.PHONY: screenshots axe run post-node serve test test-fast lint migrate demo translations i18n-extract bench bench-postsync bench-tracing bench-matching bench-dashboard clean system-deps bench-scale bench-drain bench-partitions bench-resolve bench-rules

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Sesotho and English catalogs (.po, reviewed in git) compiled to .mo (never committed).
TRANSLATIONS := tip_cases/translations
translations: $(STAMP)
	$(BIN)/pybabel -q compile -d $(TRANSLATIONS)

# After changing strings: refresh the template and merge it into each catalog, then translate the new entries.
# --ignore-dirs ".*": pybabel skips _-folders by default, and templates/_partials and _macros hold strings.
i18n-extract: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg --ignore-dirs ".*" -k lazy_gettext -k _l -k say --no-location --sort-output -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel -q update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --no-fuzzy-matching --ignore-obsolete

migrate: $(STAMP) translations
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) demo load

# Everything a new user needs: environment, SQLite database in instance/, demo data, the scheduler
# (when the notifications package provides it) and the web app on 127.0.0.1:5000.
run: demo
	@bash scripts/run.sh

# A post node (Sani Pass, SNP) beside the headquarters demo of `make run`: its own SQLite database in
# instance/post-snp/, the watchlist fetched from 127.0.0.1:5000, the web app on 127.0.0.1:5001 and its scheduler
# sending the outbox every 15 s. Run it in a second terminal while `make run` serves headquarters.
post-node: $(STAMP) translations
	@bash scripts/post_node.sh

# Store-and-forward sync throughput over loopback (docs/performance.md, "Post node sync").
bench-postsync: $(STAMP)
	$(BIN)/python -m bench.postsync_bench --crossings 5000 --persons 1000

# The browser tests drive Debian's Chromium; install it when missing (needs root, as on CI machines).
system-deps:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; browser tests will say why they cannot run"; \
	  else echo "warning: $(CHROMIUM) missing; install Debian's chromium package for the browser tests"; fi; \
	fi

# The accessibility browser tests run axe-core, pinned in package.json/package-lock.json (npm registry).
AXE := node_modules/axe-core/axe.min.js
$(AXE): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error
	touch $(AXE)

axe: $(AXE)

test: $(STAMP) system-deps translations $(AXE)
	$(BIN)/ruff check .
	@# Migrations build an empty database to exactly what the models describe.
	@tmp=$$(mktemp -d) && DATABASE_URL=sqlite:///$$tmp/check.db $(FLASK) db upgrade >/dev/null 2>&1 \
	  && DATABASE_URL=sqlite:///$$tmp/check.db $(FLASK) db check && rm -rf $$tmp
	$(BIN)/pytest

test-fast: $(STAMP) translations
	TSELA_TEST_DB=sqlite $(BIN)/pytest -x -q -m "not e2e"

# Each role's home page at 1366x768 in English and Sesotho, as docs/screenshots/<role>-<lang>.png.
screenshots: $(STAMP) translations system-deps
	$(BIN)/python scripts/screenshots.py

lint: $(STAMP)
	$(BIN)/ruff check .

# Benchmarks print their figures (see docs/performance.md); Splink is a benchmark-only dependency.
bench: $(STAMP)
	-psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE tsela_bench" 2>/dev/null
	$(BIN)/python -m bench.screening_bench --sizes 100000 1000000
	$(BIN)/python -m bench.api_bench --db sqlite
	$(BIN)/python -m bench.api_bench --db postgresql --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/tsela_bench

bench-tracing: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.tracing_bench

# Issue 15: resolution and tracing per noise class (documents that disagree), Splink side by side.
# Sizes: make bench-matching MATCHING_SIZES="100000"; add MATCHING_ARGS=--namesakes for the namesakes set.
MATCHING_SIZES ?= 100000 1000000
bench-matching: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.matching_bench --crossings $(MATCHING_SIZES) $(MATCHING_ARGS)

# Issue 10: worker RSS at 100k and 1M stored crossings (flat), attach p50/p95, API crossings/s with two
# workers. Wipes database tsela_scale. The issue's decade (about 2 hours on 2 cores):
#   make bench-scale SCALE_SIZES="100000 20000000" SCALE_YEARS=10
# (a year of N/10 generated and resolved, the 9 years before it copied in SQL: bench/scale_bench.py, replicate).
SCALE_SIZES ?= 100000 1000000
SCALE_YEARS ?= 1
bench-scale: $(STAMP)
	-psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE tsela_scale" 2>/dev/null
	nice -n 10 $(BIN)/python -m bench.scale_bench --sizes $(SCALE_SIZES) --years $(SCALE_YEARS) \
		--compare-memory-up-to 1000000 --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/tsela_scale

# Issue 10: the scheduler's RSS after draining the same 10,000 travellers, on a database bench-scale loaded
# (it marks them due and runs the real scheduler): compare the figure at 100k and at 20M.
DRAIN_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/tsela_scale
bench-drain: $(STAMP)
	$(BIN)/python -m bench.scheduler_drain --pg-url $(DRAIN_URL)

# Migration 0022 (crossings partitioned by month) at 1M crossings, and month/id queries before and after.
bench-partitions: $(STAMP)
	-psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE tsela_partitions" 2>/dev/null
	nice -n 10 $(BIN)/python -m bench.partition_bench --rows 1000000 \
		--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/tsela_partitions
# Issue 10: resolution out of core (DuckDB) and on Dask local mode, against in-memory resolve.
# Sizes: make bench-resolve RESOLVE_SIZES="100000 1000000 5000000"
RESOLVE_SIZES ?= 100000 1000000
bench-resolve: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	nice -n 10 $(BIN)/python -m bench.resolve_scale_bench --crossings $(RESOLVE_SIZES)

# Issue 10: the rules stage of `screening resolve` on a loaded database (a copy of it), travellers judged a second
# over a backlog and again; e.g. after make bench-scale: make bench-rules RULES_DB=tsela_scale
RULES_DB ?= tsela_scale
bench-rules: $(STAMP)
	nice -n 10 $(BIN)/python -m bench.rules_bench --due 3000 \
		--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/$(RULES_DB)

bench-dashboard: $(STAMP)
	-psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE tsela_reports" 2>/dev/null
	$(BIN)/python -m bench.dashboard_bench

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
