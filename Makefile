# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint simulate report-demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/dunning dev --import ../shared/spec/accounts.example.csv

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

simulate: install
	$(BIN)/dunning simulate --ladder config/ladders/consumer-standard.yaml \
		--accounts ../shared/spec/accounts.example.csv \
		--events ../shared/spec/events.example.yaml --format table

# The A/B portfolio of examples/ab-portfolio/ (a minute or two): simulated, then reported.
report-demo: install
	$(BIN)/python examples/ab-portfolio/make_portfolio.py --accounts 300 --out build/ab-portfolio
	$(BIN)/dunning simulate --ladder examples/ab-portfolio/consumer-ab.yaml \
		--accounts build/ab-portfolio/accounts.csv --events build/ab-portfolio/events.yaml --days 60 \
		--format json > build/ab-portfolio/simulation.json
	$(BIN)/dunning report --simulation build/ab-portfolio/simulation.json \
		--ladder examples/ab-portfolio/consumer-ab.yaml --format html --output build/ab-portfolio/report.html
	$(BIN)/dunning report --simulation build/ab-portfolio/simulation.json \
		--ladder examples/ab-portfolio/consumer-ab.yaml

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
