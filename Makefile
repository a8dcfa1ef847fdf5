# Every target calls the fastapi-load CLI (loadtests/bench/cli.py); no logic lives here.
# uv is installed with pip when missing; it then installs everything else from uv.lock.

UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
UV_RUN := $(UV) run --frozen
CLI := $(UV_RUN) fastapi-load

SERVICE ?= fastapi-uvicorn
VARIANT ?= default
PORT ?= 8000
PYTEST_ARGS ?=
# Load profile: the quick default finishes `make bench` (7 sides, ping and list, with wrk's ceilings
# and the generator calibration) in under six minutes on 2 cores.
USERS ?= 50
SPAWN_RATE ?= 50
DURATION ?= 8
WARMUP ?= 3
SCENARIO ?= ping,list
REPEAT ?= 1
CPUS ?= auto
RUN_ID ?=
LOCUST_WORKERS ?= 1
# wrk's ceiling after every case: auto (when wrk is installed), on (wrk required) or off.
CEILING ?= auto
CEILING_SECONDS ?= 3
# The sides of `make bench`, each SERVICE:VARIANT: the four stacks as shipped, and each Python stack's
# tuned variant (the ladder rungs that pay off; make bench-ladder measures each).
BENCH_SIDES ?= fastapi-uvicorn:default fastapi-granian:default fastapi-gunicorn:default go-gin:default \
	fastapi-uvicorn:tuned fastapi-granian:tuned fastapi-gunicorn:tuned
LOAD_ARGS = --users $(USERS) --spawn-rate $(SPAWN_RATE) --duration $(DURATION) \
	--warmup $(WARMUP) --scenario $(SCENARIO) --repeat $(REPEAT) --cpus $(CPUS) \
	--locust-workers $(LOCUST_WORKERS) --ceiling $(CEILING) --ceiling-seconds $(CEILING_SECONDS) \
	$(if $(RUN_ID),--run-id $(RUN_ID))
BENCH_ARGS = --variant $(VARIANT) $(LOAD_ARGS)
# Saturation search (make saturate-<service>): its own scenario variable, one scenario at a time.
SAT_SCENARIO ?= ping
START ?= 10
STEP ?= 10
STEP_SECONDS ?= 8
MAX_USERS ?= 200
P99_BOUND ?= 500
SATURATE_ARGS = --variant $(VARIANT) --scenario $(SAT_SCENARIO) --start $(START) --step $(STEP) \
	--step-seconds $(STEP_SECONDS) --max-users $(MAX_USERS) --p99-bound $(P99_BOUND) --cpus $(CPUS) \
	--ceiling $(CEILING) $(if $(RUN_ID),--run-id $(RUN_ID))


.PHONY: help setup wrk-tool test test-tools lint serve list go-deps bench bench-fastapi bench-granian bench-gunicorn bench-gin verify \
	bench-logging bench-pooling bench-drivers bench-workers bench-servers bench-ladder compare report readme ui compose-bench robustness

help:
	@echo "make serve SERVICE=fastapi-uvicorn PORT=8000   database + one service until Ctrl-C"
	@echo "make test                                       every test (starts its own PostgreSQL)"
	@echo "make list                                       services and their variants"
	@echo "make bench                                      BENCH_SIDES on ping and list, with wrk ceilings (<6 min)"
	@echo "make bench-fastapi|bench-granian|bench-gunicorn|bench-gin   one service"
	@echo "  variables: USERS SPAWN_RATE DURATION WARMUP SCENARIO VARIANT REPEAT CPUS RUN_ID CEILING BENCH_SIDES"

setup: wrk-tool
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
	$(UV) sync --frozen

# wrk gives every case its ceiling (CEILING=auto runs without it when it is missing, on one line).
wrk-tool:
	@command -v wrk >/dev/null || \
	{ if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	  else echo "wrk not installed: benchmarks run without ceilings (Debian: apt-get install wrk)"; fi; }

go-deps:
	@command -v go >/dev/null || { echo "Go toolchain not found: install Go (https://go.dev/dl/) for the gin service"; exit 1; }
	cd go-gin && go mod download

lint: setup
	$(UV_RUN) ruff check .
	$(UV_RUN) ruff format --check .
	$(UV_RUN) mypy
	@test -z "$$(cd go-gin && gofmt -l .)" || { echo "gofmt: files need formatting:"; cd go-gin && gofmt -l .; exit 1; }
	cd go-gin && go vet ./...

# The report test drives Debian's chromium, and the compose test needs a compose client (no engine).
test-tools:
	@command -v chromium >/dev/null && { command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1; } || \
	{ if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium docker-compose >/dev/null; \
	  else echo "make test needs chromium and docker-compose (Debian: apt-get install chromium docker-compose)"; exit 1; fi; }

test: setup go-deps test-tools lint
	$(UV_RUN) pytest $(PYTEST_ARGS)

list: setup
	$(CLI) list

serve: setup
	$(CLI) serve $(SERVICE) --variant $(VARIANT) --port $(PORT)

verify: setup
	$(CLI) verify $(SERVICE) --variant $(VARIANT)

bench: setup
	$(CLI) run $(BENCH_SIDES) $(LOAD_ARGS) --compare

bench-fastapi: setup
	$(CLI) run fastapi-uvicorn $(BENCH_ARGS)

bench-granian: setup
	$(CLI) run fastapi-granian $(BENCH_ARGS)

bench-gunicorn: setup
	$(CLI) run fastapi-gunicorn $(BENCH_ARGS)

bench-gin: setup
	$(CLI) run go-gin $(BENCH_ARGS)

saturate-%: setup
	$(CLI) saturate $* $(SATURATE_ARGS)

# Experiments keep their own load settings unless a variable is given on the command line.
given = $(if $(filter command line,$(origin $(1))),$(2) $($(1)))
EXP_ARGS = $(call given,USERS,--users) $(call given,SPAWN_RATE,--spawn-rate) $(call given,DURATION,--duration) \
	$(call given,WARMUP,--warmup) $(call given,REPEAT,--repeat) $(call given,CPUS,--cpus) \
	$(call given,CEILING,--ceiling) $(call given,CEILING_SECONDS,--ceiling-seconds)

bench-logging bench-pooling bench-drivers bench-workers bench-servers bench-ladder: bench-%: setup
	$(CLI) experiment $* $(EXP_ARGS)

# make compare A=results/<run-a> B=results/<run-b> [BASELINE=go-gin]
compare: setup
	$(CLI) compare $(A) $(B) $(if $(BASELINE),--baseline $(BASELINE))

report: setup
	$(CLI) report $(RUN)

readme: setup
	$(CLI) readme

ui: setup
	$(CLI) ui $(SERVICE) --variant $(VARIANT)

# Containers: the service, PostgreSQL and migrations from compose.yaml; the harness loads the
# published port from here and writes the usual result files, labelled variant "containers".
COMPOSE ?= docker compose
compose-bench: setup
	$(COMPOSE) --profile $(SERVICE) up -d --build --wait $(SERVICE)
	$(COMPOSE) --profile load run --rm seed
	$(CLI) run $(SERVICE) --target http://$$($(COMPOSE) port $(SERVICE) 8000) --variant containers \
		--users $(USERS) --spawn-rate $(SPAWN_RATE) --duration $(DURATION) --warmup $(WARMUP) \
		--scenario $(SCENARIO) --repeat $(REPEAT) --cpus none --locust-workers $(LOCUST_WORKERS); \
	status=$$?; $(COMPOSE) --profile $(SERVICE) stop; exit $$status

# The fault suite (about 8 minutes): make robustness [FAULT=postgres-restart] [STACK=go-gin]
robustness: setup go-deps
	$(CLI) robustness $(if $(FAULT),--fault $(FAULT)) $(if $(STACK),--stack $(STACK))
