# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper they call.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
BIN := $(VENV)/bin
# template.yaml uses AWS::LanguageExtensions (Fn::ForEach), which SAM CLI expands locally only when asked.
SAM := SAM_CLI_TELEMETRY=0 SAM_CLI_ENABLE_LANGUAGE_EXTENSIONS=1 $(SAM_VENV)/bin/sam
# `sam build` needs a python3.12 on PATH for the python3.12 runtime; pyenv images provide one this way.
SAM_PYENV := PYENV_VERSION=$$(pyenv versions --bare 2>/dev/null | grep -E '^3\.12' | head -1):$$(pyenv versions --bare 2>/dev/null | grep -E '^3\.11' | head -1)
PORT ?= 3000
FINOPS_DATA_DIR ?= .finops
TENANT ?= demo
ROLE ?= admin
ENV ?= dev
# The browser tests drive Debian's Chromium (Playwright's own browser download is not available everywhere).
CHROMIUM ?= /usr/bin/chromium
export PORT FINOPS_DATA_DIR CHROMIUM

.PHONY: install lock run token invoke test fuzz lint format typecheck openapi validate build migrate deploy publish-web screenshots bench clean

# Dependencies are installed from locks: every package pinned with the hashes of its files (pip's hash-checking
# mode), so an install in a month gets exactly what was tested, or fails. A lock lists every package, so pip installs
# it as it stands (--no-deps: no resolving, which in hash mode trips over a dependency asking for extras) and then
# checks that nothing is missing. The .in files say what is wanted; `make lock` resolves them (uv), keeping the pinned
# versions unless UPGRADE=1.
PIP_LOCKED = --quiet --disable-pip-version-check --require-hashes --no-deps
install: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install $(PIP_LOCKED) -r requirements-dev.txt 2> >(grep -v 'is ignored: it is neither' >&2)
	@$(BIN)/pip check --disable-pip-version-check >/dev/null
	@touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	@$(SAM_VENV)/bin/pip install $(PIP_LOCKED) -r requirements-sam.txt 2> >(grep -v 'is ignored: it is neither' >&2)
	@$(SAM_VENV)/bin/pip check --disable-pip-version-check >/dev/null
	@touch $@

## lock: resolve the .in files into the hash-pinned locks (UPGRADE=1 takes newer versions): the layer's for the Lambda
## runtime (python3.12 on arm64, what SAM builds), then development's at the layer's versions, then the SAM CLI's
UV_COMPILE = $(BIN)/uv pip compile --quiet --generate-hashes --custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade)
lock: install
	$(UV_COMPILE) --python-version 3.12 --python-platform aarch64-manylinux_2_28 layers/finops/requirements.in -o layers/finops/requirements.txt
	$(UV_COMPILE) --universal --python-version 3.11 requirements-dev.in -o requirements-dev.txt
	$(UV_COMPILE) --universal --python-version 3.11 requirements-sam.in -o requirements-sam.txt

## run: the whole service on the embedded stack, with demo data, on http://127.0.0.1:$(PORT) (Ctrl-C stops it)
run: install
	@$(BIN)/python -m local.server

## token: print a JWT the running local server accepts (make -s token TENANT=demo ROLE=admin)
token: install
	@$(BIN)/python -m local.token --tenant "$(TENANT)" --role "$(ROLE)"

## invoke: run a function now, through the running server if any (make invoke FUNCTION=run_daily_aggregation;
## EVENT=events/<function>.<case>.json sends a recorded event instead of the schedule's)
invoke: install
	@$(BIN)/python -m local.invoke "$(FUNCTION)" $(if $(EVENT),--event "$(EVENT)")

## test: lint, type checks, unit, integration, e2e (the dashboard in headless Chromium included) and template tests
test: install $(SAM_VENV)/.installed $(CHROMIUM) lint typecheck
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "the browser tests need Chromium at $(CHROMIUM): sudo apt-get install chromium (or CHROMIUM=/path/to/chromium)" >&2; exit 1; \
	fi

## screenshots: every dashboard screen at 1280 and 390 px into docs/screenshots/ (a server of its own, demo data)
screenshots: install $(CHROMIUM)
	$(BIN)/python -m tests.browser.screenshots
## fuzz: a long schemathesis campaign against a fresh local server as user, admin and system (FUZZ_SECONDS
## per role, default 600; FUZZ_WORKERS, default 2); one JSON summary line per role in .fuzz/summary.jsonl
fuzz: install
	@mkdir -p .fuzz
	FUZZ_SECONDS=$${FUZZ_SECONDS:-600} FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-500} FUZZ_WORKERS=$${FUZZ_WORKERS:-2} \
		FUZZ_SUMMARY=$${FUZZ_SUMMARY:-.fuzz/summary.jsonl} $(BIN)/python -m pytest tests/e2e/test_fuzz_e2e.py -q
	@cat $${FUZZ_SUMMARY:-.fuzz/summary.jsonl}

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## typecheck: mypy strict over everything that runs: the layer, functions/, local/ and bench/ (pyproject.toml)
typecheck: install
	$(BIN)/mypy

## openapi: regenerate openapi.json from the handlers' models
openapi: install
	$(BIN)/python -m local.openapi > openapi.json.tmp && mv openapi.json.tmp openapi.json

## validate: sam validate with cfn-lint (offline; the region only names the partition's resource specs)
validate: $(SAM_VENV)/.installed
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(SAM) validate --lint

## build: build every function and the layer into .aws-sam/build (needs a python3.12, pyenv's or on PATH)
build: $(SAM_VENV)/.installed
	@$(SAM_PYENV) python3.12 --version >/dev/null 2>&1 || { echo "sam build needs python3.12 on PATH (or pyenv install 3.12)" >&2; exit 1; }
	$(SAM_PYENV) $(SAM) build --config-env $(ENV)

## deploy: build, then deploy with samconfig.toml's [$(ENV)] section (make deploy ENV=prod)
## migrate: apply the ClickHouse and PostgreSQL migrations to the databases the environment names
## (CLICKHOUSE_URL, CLICKHOUSE_SECRET_ARN, DATABASE_URL or DATABASE_SECRET_ARN, DATABASE_SCHEMA)
migrate: install
	PYTHONPATH=layers/finops $(BIN)/python -m finops.db.migrate --sql-dir sql/clickhouse
	PYTHONPATH=layers/finops $(BIN)/python -m finops.db.postgres --sql-dir sql/postgres

## deploy: migrations first (they only add), then the stack, then the dashboard's files (make deploy ENV=prod)
deploy: build migrate
	$(SAM) deploy --config-env $(ENV)
	$(BIN)/python -m local.publish_web --config-env $(ENV)

## publish-web: upload web/ and its config.json to the stack's dashboard bucket and refresh CloudFront
publish-web: install
	$(BIN)/python -m local.publish_web --config-env $(ENV)

## bench: the scale benchmarks; results in bench/RESULTS.md
bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
