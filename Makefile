# Kiln: `make run` serves on http://127.0.0.1:8080; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_WORKERS ?= 2

.PHONY: run test test-sqlite test-postgres lint format bench lock clean

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) scripts/make_venv.py $(VENV)
	@if command -v uv >/dev/null 2>&1; then \
		uv pip install --quiet --python $(BIN)/python -r requirements.lock && \
		uv pip install --quiet --python $(BIN)/python --no-deps -e . ; \
	else \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock && \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e . ; \
	fi
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

# npm tools for the tests (the gitlab-ci-local oracle); skipped with a note when npm is absent.
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else \
		echo "npm not found: the gitlab-ci-local oracle tests will be skipped"; \
	fi

run: $(STAMP)
	$(BIN)/kiln serve

test: $(STAMP) node_modules/.installed
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -q

# The suite again on PostgreSQL when KILN_TEST_DATABASE_URL is set (`.ci/run` sets it): every
# test that uses the database (KILN_TEST_DATABASE_ONLY, see tests/conftest.py); the others
# cannot reach it, so they ran once, in the SQLite pass.
test-postgres: $(STAMP)
	@if [ -n "$$KILN_TEST_DATABASE_URL" ]; then \
		KILN_DATABASE_URL="$$KILN_TEST_DATABASE_URL" KILN_TEST_DATABASE_ONLY=1 \
			$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -q; \
	else \
		echo "test-postgres: skipped (KILN_TEST_DATABASE_URL is not set)"; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# bench/git compares against git http-backend under lighttpd (Debian: apt-get install lighttpd).
bench: $(STAMP)
	@command -v lighttpd >/dev/null 2>&1 || echo "note: bench/git needs lighttpd (apt-get install lighttpd)"
	$(BIN)/python -m bench

lock: $(STAMP)
	@(echo "# Pinned dependencies (runtime + development). Regenerate: make lock"; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v -i '^kiln') > requirements.lock

clean:
	rm -rf $(VENV) data
