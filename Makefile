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

export PREFECT_HOME := $(CURDIR)/var/prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_LOGGING_LEVEL ?= WARNING
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test install sshd clean help

help:
	@echo "make demo   # generate a day, serve it over a local OpenSSH sftp, run the nightly flow, write reports"
	@echo "make test   # the whole test suite (unit, SQL, integration with real sshd and Prefect)"

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

clean:
	rm -rf $(VENV) var demo-out .pytest_cache
