# The two commands a new user needs: `make up` and `make test`. Each creates .venv and installs
# the locked dependencies on first use.
.PHONY: up test lint lock clean bench

up:
	@scripts/venv.sh
	@.venv/bin/dialer-up

test:
	@scripts/test.sh

# Every benchmark in bench/ at full size, as quoted in README (ARGS="dnc --smoke" to pick).
bench:
	@scripts/venv.sh
	@.venv/bin/python -m bench $(ARGS)

lint:
	@scripts/venv.sh
	@.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

# Re-resolve requirements.lock after changing dependencies in pyproject.toml.
lock:
	@scripts/venv.sh
	@.venv/bin/python -m pip install --quiet uv
	@.venv/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf .venv .data .pytest_cache .mypy_cache .ruff_cache
