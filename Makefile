# Every target calls the fastapi-load CLI (loadtests/bench/cli.py); no logic lives here.
# uv is installed with pip when missing; it then installs everything else from uv.lock.

UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --frozen
CLI := $(RUN) fastapi-load

SERVICE ?= fastapi-uvicorn
VARIANT ?= default
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: help setup test lint serve list go-deps

help:
	@echo "make serve SERVICE=fastapi-uvicorn PORT=8000   database + one service until Ctrl-C"
	@echo "make test                                       every test (starts its own PostgreSQL)"
	@echo "make list                                       services and their variants"

setup:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
	$(UV) sync --frozen

go-deps:
	@command -v go >/dev/null || { echo "Go toolchain not found: install Go (https://go.dev/dl/) for the gin service"; exit 1; }
	cd go-gin && go mod download

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	@test -z "$$(cd go-gin && gofmt -l .)" || { echo "gofmt: files need formatting:"; cd go-gin && gofmt -l .; exit 1; }
	cd go-gin && go vet ./...

test: setup go-deps lint
	$(RUN) pytest $(PYTEST_ARGS)

list: setup
	$(CLI) list

serve: setup
	$(CLI) serve $(SERVICE) --variant $(VARIANT) --port $(PORT)
