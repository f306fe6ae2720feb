# Two commands for a new machine: `make run` (the app with demo data on http://127.0.0.1:8000)
# and `make test` (the whole suite on PostgreSQL, browser tests included).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/evovoice

.PHONY: run test venv lint bench browser-deps screenshots

$(BIN)/activate: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt
	touch $(BIN)/activate

venv: $(BIN)/activate

# The demo asks for demo mode (debug pages, a fixed key, loopback hosts): without DJANGO_DEBUG the
# settings fail closed. collectstatic fills staticfiles/, which the settings never create.
run: export DJANGO_DEBUG := 1
run: export WEBHOOK_DELIVERY_IN_SERVER := 1
run: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --if-empty
	$(BIN)/python manage.py collectstatic --noinput -v0
	PORT=$(PORT) $(BIN)/python -m portal.serve --simulate-traffic

browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium and chromium-driver for the browser tests"; \
	  (apt-get update -qq && apt-get install -y -qq chromium chromium-driver) >/dev/null; }

# The Node tests (tests/node: the official @servicestack/client) install from their lock file.
test: venv browser-deps
	npm ci --prefix tests/node --no-audit --no-fund
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: venv
	$(BIN)/python bench/run_all.py  # its own database (evovoice_bench) unless DATABASE_URL is set

screenshots: venv browser-deps
	UPDATE_SCREENSHOTS=1 DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(BIN)/python -m pytest tests/browser/test_screenshots.py -q
