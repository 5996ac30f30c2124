# recon — two commands for a fresh machine: `make demo` and `make test`.
# Each installs what it needs: a .venv with the pinned packages and, where /usr/sbin/sshd is
# missing, Debian's openssh-server (the SFTP peer for the demo and the integration tests).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SSHD   := /usr/sbin/sshd
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DATE   ?= 2026-11-21
SEED   ?= 7
REPEAT ?= 1

export PREFECT_HOME := $(CURDIR)/var/prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_LOGGING_LEVEL ?= WARNING
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test test-fast install sshd clean help bench-formats demo-busy

help:
	@echo "make demo   # generate a day, serve it over a local OpenSSH sftp, run the nightly flow, write reports"
	@echo "make test   # the whole test suite (unit, SQL, integration with real sshd and Prefect)"
	@echo "make test-fast  # unit and SQL tests only: no sshd, no Prefect (tests/conftest.py marks the rest)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

sshd:
	@if [ ! -x $(SSHD) ]; then \
	  echo "installing openssh-server (sshd is the SFTP peer for the demo and tests)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq openssh-server >/dev/null; \
	fi

demo: install sshd
	$(VENV)/bin/recon demo --date $(DATE) --seed $(SEED) --out demo-out

test: install sshd
	$(PY) -m pytest -q

# The lane without real services: tests that use the sshd or Prefect fixtures, or are marked
# `integration`, are left out (tests/conftest.py).
test-fast: install
	$(PY) -m pytest -q -m "not integration"

# `make demo` while 8 CPU-bound processes keep the machine busy (BUSY=N to change); PASS/FAIL
# and the time. Not part of `make test`.
demo-busy: install sshd
	@bash bench/busy_demo.sh

clean:
	rm -rf $(VENV) var demo-out .pytest_cache

# The demo workbook through LibreOffice (not part of `make test`: CI does not install it).
# Needs libreoffice-calc (or -nogui), python3-uno and poppler-utils. Renders every sheet to PDF
# and PNG (each with its own print settings), sorts the Breaks sheet headless by difference
# (tests/libreoffice_check.py, Python-UNO: it fails if the sheet were locked again), and imports
# the LibreOffice-sorted copy back (nothing new recorded, no conflict).
LO_PYTHON ?= /usr/bin/python3
.PHONY: check-libreoffice
check-libreoffice: install
	@command -v soffice >/dev/null || { echo "install libreoffice-calc-nogui first"; exit 2; }
	@$(LO_PYTHON) -c "import uno" 2>/dev/null || { echo "install python3-uno first ($(LO_PYTHON))"; exit 2; }
	@book=$$(ls -t demo-out/var/reports/*/*/recon_*.xlsx 2>/dev/null | head -1); \
	if [ -z "$$book" ]; then $(MAKE) demo >/dev/null && book=$$(ls -t demo-out/var/reports/*/*/recon_*.xlsx | head -1); fi; \
	test -n "$$book" || { echo "no demo workbook (make demo failed?)"; exit 1; }; \
	out=var/libreoffice; rm -rf $$out; mkdir -p $$out; \
	$(LO_PYTHON) tests/libreoffice_check.py "$$book" $$out || exit 1; \
	RECON_HOME=$$PWD/demo-out/var $(VENV)/bin/recon annotations import $$out/sorted.xlsx --who check-libreoffice \
	  --config data/recon.toml || { echo "the LibreOffice-sorted workbook did not import"; exit 1; }; \
	echo "check-libreoffice: $$book renders and sorts in LibreOffice ($$out)"

# Faults and hostile input (issue 8): each injected fault and bad input is tallied by the tests
# themselves (recon.chaos.check); the last line is computed from that tally. Also part of `make test`.
CHAOS_TESTS := tests/test_faults.py tests/test_chaos.py tests/test_hostile.py tests/test_secrets.py tests/test_sftp.py \
               tests/test_transfer_faults.py tests/test_local_source.py tests/test_secret_errors.py \
               tests/test_exit_codes.py tests/test_night_faults.py tests/test_pending.py
.PHONY: chaos
chaos: install sshd
	@rm -f var/chaos.jsonl; mkdir -p var
	@RECON_CHAOS_TALLY=$(CURDIR)/var/chaos.jsonl $(PY) -m pytest -q -p no:cacheprovider $(CHAOS_TESTS); \
	status=$$?; $(PY) -m recon.chaos report var/chaos.jsonl || status=1; exit $$status

# Speed: recon end to end against the DuckDB floor and a pandas baseline on one cached synthetic
# day (bench/run.py; README "Speed"). SCALE is rows per side: 1M (default), 10M, 100M.
SCALE ?= 1M
# PRIOR_DAYS=7: each run starts from a warehouse holding the 7 business days before (steady state).
PRIOR_DAYS ?= 0
.PHONY: bench bench-history
bench: install
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m bench.run --scale $(SCALE) --repeat $(REPEAT) --prior-days $(PRIOR_DAYS)

# How a new day's ledger load and working sets grow with the ledger history kept (bench/history.py).
bench-history: install
	$(PY) -m bench.history

# Two warehouses (files or `recon eval --out` directories) compared table by table, by hash.
.PHONY: compare
compare: install
	$(PY) -m bench.compare $(A) $(B)

# Parsing speed per format (issue 3): CSV formats on ~1M lines, camt.053/MT940/BAI2 on 100k entries.
bench-formats: install
	$(PY) -m bench.formats
