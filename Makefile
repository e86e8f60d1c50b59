# Luotsi: `make run` installs everything and serves the demo; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
HTMX := luotsi/web/static/vendor/htmx.min.js

.PHONY: install run test test-days lint format clean messages

install: $(BIN)/luotsi $(HTMX)

$(BIN)/luotsi: pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --quiet
	touch $@

$(HTMX): package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	mkdir -p $(dir $(HTMX))
	cp node_modules/htmx.org/dist/htmx.min.js $(HTMX)

run: install
	LUOTSI_DEBUG=$${LUOTSI_DEBUG-1} $(BIN)/luotsi db upgrade
	LUOTSI_DEBUG=$${LUOTSI_DEBUG-1} $(BIN)/luotsi demo
	LUOTSI_DEBUG=$${LUOTSI_DEBUG-1} $(BIN)/luotsi serve

# The suite runs in TEST_WORKERS pytest-xdist processes, each with its own databases (README).
TEST_WORKERS ?= auto
test: install
	$(BIN)/pytest -n $(TEST_WORKERS)

# The whole suite on other days (see README): a leap-year end of February, midsummer, a DST change.
TEST_DAYS ?= 2027-06-15 2029-02-28 2027-03-28T02:30+02:00
test-days: install
	for day in $(TEST_DAYS); do LUOTSI_TEST_TODAY=$$day $(BIN)/pytest -q -n $(TEST_WORKERS) || exit 1; done

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) node_modules $(dir $(HTMX)) .pytest_cache

messages: install
	$(BIN)/pybabel extract --width 100 -F babel.cfg -k N_ -k _ --no-location --sort-output -o luotsi/locale/messages.pot .
	$(BIN)/pybabel update --width 100 -i luotsi/locale/messages.pot -d luotsi/locale --no-fuzzy-matching --ignore-obsolete
