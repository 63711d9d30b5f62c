# Ombud's two set-up commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

MO := locale/zh_Hans/LC_MESSAGES/django.mo

.PHONY: demo test install lint clean browser

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed: install it, or run 'make PYTHON=/path/to/python3.11 ...'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The Chinese catalogue is committed as django.po and compiled here (needs GNU gettext's msgfmt).
$(MO): locale/zh_Hans/LC_MESSAGES/django.po $(STAMP)
	@command -v msgfmt >/dev/null 2>&1 || { echo "GNU gettext is needed to compile the translations: apt-get install gettext"; exit 1; }
	DEBUG=1 $(BIN)/python manage.py compilemessages -l zh_Hans --ignore=.venv -v 0

install: $(STAMP) $(MO)

# The end-to-end tests drive Debian's Chromium; installed here when missing and run as root.
browser:
	@command -v chromium >/dev/null 2>&1 || [ -n "$$OMBUD_CHROMIUM" ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Chromium for the end-to-end tests"; \
	    (apt-get install -y -q chromium fonts-noto-cjk >/dev/null || (apt-get update -q >/dev/null && apt-get install -y -q chromium fonts-noto-cjk >/dev/null)); \
	  else echo "Chromium is needed for the end-to-end tests: sudo apt-get install chromium fonts-noto-cjk"; exit 1; fi; }

# The demo: a SQLite database next to manage.py, demo data, accounts printed, served on :8000.
demo: $(STAMP) $(MO)
	DEBUG=1 $(BIN)/python manage.py migrate --no-input -v 0
	DEBUG=1 $(BIN)/python manage.py demo
	DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:8000

# The whole suite, on SQLite unless DATABASE_URL names another database, in TEST_WORKERS
# processes (pytest-xdist; each has a test database of its own). The browser walkthrough runs
# alone, on a test database of its own: its live server must not share one that earlier
# transactional tests have emptied and restored.
TEST_WORKERS ?= 2
test: $(STAMP) $(MO) browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --ignore=tests/e2e
	$(BIN)/python -m pytest tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(BIN)/mypy

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm .pytest_cache .mypy_cache .ruff_cache
