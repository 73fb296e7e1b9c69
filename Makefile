# The README's two commands are `make demo` and `make test`; both set everything up first.
.PHONY: setup demo test lint typecheck check bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/meterseal demo

test:
	@METERSEAL_BROWSER=1 bash scripts/setup.sh
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check src tests
	.venv/bin/ruff format --check src tests

typecheck: setup
	.venv/bin/mypy

check: test lint typecheck

bench: setup
	.venv/bin/meterseal bench crypto

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
