# bantin — every command an engineer or CI needs. `make demo`, `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION   := 0.13.8
VENV         := $(CURDIR)/.venv
BIN          := $(VENV)/bin
PYTHON       ?= python3
UV           := $(PYTHON) -m uv

# Embedded defaults: data under ./var, Airflow metadata in SQLite under ./airflow_home.
export BANTIN_HOME ?= $(CURDIR)/var
export AIRFLOW_HOME ?= $(CURDIR)/airflow_home
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT := 60
export PYTHONUNBUFFERED := 1

DEMO_PROVINCE := 22
DEMO_START    := 2021-10-01
DEMO_END      := 2021-10-19
DEMO_WARM_END := 2021-10-18

# A busy evening (make demo-busy): Quảng Ninh's 369-case day of 21/01/2022, 8 weeks of history.
BUSY_HOME     := $(CURDIR)/var-busy
BUSY_START    := 2021-11-20
BUSY_WARM_END := 2022-01-20
BUSY_END      := 2022-01-21

.PHONY: help install lint lint-sql system-deps bulletin-deps channel-deps airflow-db demo demo-busy test bench docs clean airflow distributed-deps test-distributed

help:
	@echo "make demo    set everything up and build the Quảng Ninh bulletin of 19/10/2021 through Airflow"
	@echo "make demo-busy  Quảng Ninh's busy 21/01/2022: a provisional v1 (missing, late, rejected files), then v2"
	@echo "make test    the whole test suite (after make lint and make lint-sql)"
	@echo "make lint    ruff over the Python code: lint and format check (rules in pyproject.toml)"
	@echo "make lint-sql  sqlfluff over the dbt models (.sqlfluff)"
	@echo "make bench   benchmarks (figures go to docs/benchmarks.md)"
	@echo "make airflow Airflow on this machine (standalone, SQLite) with the project's DAGs: UI, runs, backfills"
	@echo "make test-distributed  PostgreSQL + Redis + Airflow on Celery without containers: the scale-out path"
	@echo "make clean   remove var/ and airflow_home/ (keeps .venv)"

# uv from PyPI when the machine has none; then the locked dependencies into .venv.
install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml uv.lock
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --frozen --python 3.11
	@touch $@

# WeasyPrint needs Pango; present on our base image, installed here if a machine lacks it.
system-deps:
	@if ! ldconfig -p | grep -q libpango-1.0; then \
	  echo "installing Pango for WeasyPrint"; \
	  apt-get update -qq && apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core; fi

# The Debian packages of the list that are not installed yet, installed (apt-get, as root); nothing when all are.
apt_install_missing = missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi

# The bulletin's checks and previews: pdftoppm/pdftotext (poppler-utils) and headless Chromium;
# HarfBuzz-Subset makes WeasyPrint subset the embedded font natively (docs/benchmarks/bench_bulletin.md).
BULLETIN_APT := poppler-utils chromium libharfbuzz-subset0
bulletin-deps:
	@$(call apt_install_missing,$(BULLETIN_APT))

# The district channels' test servers: Dovecot (IMAP) and OpenSSH (SFTP), each started by the tests with
# their own config on a high port (tests/channels); the services are never enabled on this machine.
CHANNEL_APT := dovecot-imapd openssh-server openssh-client
channel-deps:
	@$(call apt_install_missing,$(CHANNEL_APT))

airflow-db: install
	@mkdir -p $(AIRFLOW_HOME)
	$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || (tail -20 $(AIRFLOW_HOME)/db-migrate.log; exit 1)

demo: install system-deps airflow-db
	@echo "== 1/3 demo submissions for Quảng Ninh $(DEMO_START)..$(DEMO_END), built from the real published series"
	$(BIN)/bantin demo-data --province $(DEMO_PROVINCE) --start $(DEMO_START) --end $(DEMO_END)
	@echo "== 2/3 loading $(DEMO_START)..$(DEMO_WARM_END) in one process (same code path), so 7-day figures are real"
	BANTIN_PROVINCE=$(DEMO_PROVINCE) $(BIN)/bantin run --start $(DEMO_START) --end $(DEMO_WARM_END) --load-only
	@echo "== 3/3 airflow dags test daily_bulletin $(DEMO_END) (log: $(AIRFLOW_HOME)/demo-dag-run.log)"
	BANTIN_PROVINCE=$(DEMO_PROVINCE) BANTIN_SIGNOFF=skip $(BIN)/airflow dags test daily_bulletin $(DEMO_END) > $(AIRFLOW_HOME)/demo-dag-run.log 2>&1 \
	  || (grep -E "ERROR|Error|error" $(AIRFLOW_HOME)/demo-dag-run.log | tail -20; exit 1)
	@echo ""
	@echo "Bulletin (HTML): $$(readlink -f $(BANTIN_HOME)/bulletins/$(DEMO_END)/latest)/bulletin.html"
	@echo "Bulletin (PDF):  $$(readlink -f $(BANTIN_HOME)/bulletins/$(DEMO_END)/latest)/bulletin.pdf"
	@echo "Analyst snapshot: $(BANTIN_HOME)/warehouse/analytics.duckdb"

# The bulletin on a busy evening, in its own data root (var-busy/): the deadline run makes a provisional v1
# (one district missing, one late, one rejected), then the late file (19:10) and the correction (19:25)
# arrive and the next run makes v2. Levels above 1, community cases, 8 weeks of trend.
demo-busy: install system-deps
	@rm -rf $(BUSY_HOME)
	@echo "== 1/4 demo submissions for Quảng Ninh $(BUSY_START)..$(BUSY_END), with a busy evening on $(BUSY_END)"
	BANTIN_HOME=$(BUSY_HOME) $(BIN)/bantin demo-data --province $(DEMO_PROVINCE) --start $(BUSY_START) --end $(BUSY_END) \
	  --busy-evening $(BUSY_HOME)/evening
	@echo "== 2/4 loading the 8 weeks before it (one collect, one validation, marts to $(BUSY_WARM_END))"
	BANTIN_HOME=$(BUSY_HOME) BANTIN_PROVINCE=$(DEMO_PROVINCE) $(BIN)/bantin run --start $(BUSY_WARM_END) --load-only
	@echo "== 3/4 the 17:00 bulletin of $(BUSY_END): provisional v1"
	BANTIN_HOME=$(BUSY_HOME) BANTIN_PROVINCE=$(DEMO_PROVINCE) $(BIN)/bantin run --start $(BUSY_END) --no-deliver
	@echo "== 4/4 the late file and the correction arrive; the next run makes v2"
	cp -rp $(BUSY_HOME)/evening/. $(BUSY_HOME)/landing/
	BANTIN_HOME=$(BUSY_HOME) BANTIN_PROVINCE=$(DEMO_PROVINCE) $(BIN)/bantin run --start $(BUSY_END) --no-deliver
	@echo ""
	@echo "Bulletin v1 (PDF): $(BUSY_HOME)/bulletins/$(BUSY_END)/v1/bulletin.pdf"
	@echo "Bulletin v2 (PDF): $(BUSY_HOME)/bulletins/$(BUSY_END)/v2/bulletin.pdf"

# ruff's rules and line length are in pyproject.toml ([tool.ruff]): lint, and the code as `ruff format` writes it
# (run `.venv/bin/ruff format .` before committing); `make test` runs this first.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The dbt models' SQL (sqlfluff, dbt templater, DuckDB dialect: .sqlfluff); no warehouse needed.
lint-sql: install
	$(BIN)/sqlfluff lint transforms

test: install lint lint-sql system-deps bulletin-deps channel-deps
	$(BIN)/python -m pytest -q

bench: install system-deps channel-deps
	BENCH=$(BENCH) $(BIN)/python -m bench.run

# Previews of the demo bulletins (docs/bulletin-preview/): PDF pages, desktop and phone (390 px) screens,
# of `make demo`'s quiet day and of `make demo-busy`'s v2.
docs: install system-deps bulletin-deps
	@test -e $(BANTIN_HOME)/bulletins/$(DEMO_END)/latest || $(MAKE) demo
	@test -e $(BUSY_HOME)/bulletins/$(BUSY_END)/v2 || $(MAKE) demo-busy
	$(BIN)/python -m bantin.render previews $(BANTIN_HOME)/bulletins/$(DEMO_END)/latest docs/bulletin-preview
	$(BIN)/python -m bantin.render previews $(BUSY_HOME)/bulletins/$(BUSY_END)/v2 docs/bulletin-preview/busy

# The operators' Airflow: api-server, scheduler, dag-processor, triggerer in one process tree.
airflow: install system-deps airflow-db
	@bash deploy/airflow-local.sh

# PostgreSQL and Redis from Debian for the distributed test (PostgreSQL is on our base image).
distributed-deps:
	@if ! command -v redis-server >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "installing redis-server and postgresql"; \
	  apt-get update -qq && apt-get install -y -qq redis-server postgresql >/dev/null; fi

test-distributed: install system-deps bulletin-deps channel-deps distributed-deps
	BANTIN_TEST_DISTRIBUTED=1 $(BIN)/python -m pytest -q -m distributed tests/operations

clean:
	rm -rf var var-busy airflow_home
