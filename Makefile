# campusbot: `make run` starts the bot on its embedded defaults, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint check-flows clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "campusbot needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: ## create or refresh .venv
	@rm -f $(STAMP)
	@$(MAKE) --no-print-directory $(STAMP)

run: $(STAMP) ## start the bot: SQLite, demo directory, simulator at http://127.0.0.1:8080/sim
	$(BIN)/campusbot serve

test: $(STAMP) ## run the test suite (SQLite; set CAMPUSBOT_TEST_DATABASE_URL for PostgreSQL)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

check-flows: $(STAMP)
	$(BIN)/campusbot flows check

clean:
	rm -rf $(VENV) data .pytest_cache
