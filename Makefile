# Two commands matter: `make run` and `make test`. Both build .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/rigctl run

test: $(STAMP) lint
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check rigctl tests
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/rigctl bench --seconds 60

clean:
	rm -rf $(VENV) build *.egg-info

# Install on a Raspberry Pi (`sudo make install`): venv in $(PREFIX), config in
# /etc/rigctl (never overwritten), systemd units enabled. DESTDIR=/staging/root
# stages the same tree without touching the system. See README "Installing on a Pi".
.PHONY: install uninstall
install:
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" PY="$(PY)" bash systemd/install.sh install

uninstall:
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" bash systemd/install.sh uninstall
