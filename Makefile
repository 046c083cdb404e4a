# Two commands for a newcomer: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Runs the bot: Telegram when a token is configured, else the terminal chat.
run: $(STAMP)
	@test -f config.yaml || cp config.example.yaml config.yaml
	$(BIN)/sopbot run

# The layer contracts, then the whole suite. Database tests run on SQLite, and on PostgreSQL
# too when SOPBOT_TEST_POSTGRES_URL names a server (.ci/run starts one and sets it).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest

# The layer contracts (import-linter, in pyproject.toml) count as lint too.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
