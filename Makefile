# Every target calls the fastapi-load CLI (loadtests/bench/cli.py); no logic lives here.
# uv is installed with pip when missing; it then installs everything else from uv.lock.

UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
UV_RUN := $(UV) run --frozen
CLI := $(UV_RUN) fastapi-load

SERVICE ?= fastapi-uvicorn
VARIANT ?= default
PORT ?= 8000
PYTEST_ARGS ?=
# Load profile: `make bench` (7 sides, ping and list) finishes in under six minutes on 2 cores:
# 12 capacity rounds of 1 s wrk windows (one warm-up pass before the first; its 12 verdicts share one
# 5% error budget, which nine rounds are the fewest to reach), one open-loop rate (half the slowest
# side's capacity), and a short Locust pass for the user's view.
USERS ?= 50
SPAWN_RATE ?= 50
DURATION ?= 3
WARMUP ?= 0
SCENARIO ?= ping,list
REPEAT ?= 1
CPUS ?= auto
RUN_ID ?=
LOCUST_WORKERS ?= 1
ROUNDS ?= 12
WINDOW ?= 1
LOOKS ?= 1
BLOCKS ?= 1
WINDOW_WARMUP ?= 0
OPEN_LOOP ?= 50%
# p99 at the common rate: each side this many times, 1-second points, in a fresh order each time.
OPEN_LOOP_REPEATS ?= 3
OPEN_LOOP_SECONDS ?= 1
SEED ?=
# The sides of `make bench`, each SERVICE:VARIANT: the four stacks as shipped, and each Python stack's
# tuned variant (the ladder rungs that pay off; make bench-ladder measures each).
BENCH_SIDES ?= fastapi-uvicorn:default fastapi-granian:default fastapi-gunicorn:default go-gin:default \
	fastapi-uvicorn:tuned fastapi-granian:tuned fastapi-gunicorn:tuned
LOAD_ARGS = --users $(USERS) --spawn-rate $(SPAWN_RATE) --duration $(DURATION) \
	--warmup $(WARMUP) --scenario $(SCENARIO) --repeat $(REPEAT) --cpus $(CPUS) \
	--locust-workers $(LOCUST_WORKERS) --rounds $(ROUNDS) --window $(WINDOW) --looks $(LOOKS) --blocks $(BLOCKS) \
	--window-warmup $(WINDOW_WARMUP) --no-calibration \
	$(if $(RUN_ID),--run-id $(RUN_ID)) $(if $(SEED),--shuffle-seed $(SEED))
BENCH_ARGS = --variant $(VARIANT) $(LOAD_ARGS)
# One side's open-loop curve (make saturate-<service>): p99 at fractions of its capacity, to its knee.
SAT_SCENARIO ?= ping
CURVE ?= 25,50,75,90,100,110,125%
SATURATE_ARGS = --variant $(VARIANT) --scenario $(SAT_SCENARIO) --curve $(CURVE) --cpus $(CPUS) \
	$(if $(RUN_ID),--run-id $(RUN_ID))


.PHONY: help setup wrk-tool vegeta-tool test test-fast test-tools lint serve list go-deps bench bench-fastapi bench-granian bench-gunicorn bench-gin verify \
	bench-logging bench-pooling bench-drivers bench-workers bench-servers bench-ladder bench-serialization bench-middleware \
	bench-sync bench-orm bench-overload compare report readme check-claims ui compose-bench robustness

help:
	@echo "make serve SERVICE=fastapi-uvicorn PORT=8000   database + one service until Ctrl-C"
	@echo "make test                                       every test (starts its own PostgreSQL)"
	@echo "make test-fast                                  the tests that start nothing (< 1 min)"
	@echo "make list                                       services and their variants"
	@echo "make bench                                      BENCH_SIDES on ping and list: verdicts in rounds (<6 min)"
	@echo "make bench-fastapi|bench-granian|bench-gunicorn|bench-gin   one service"
	@echo "  variables: ROUNDS WINDOW OPEN_LOOP SCENARIO USERS DURATION REPEAT VARIANT CPUS RUN_ID SEED BENCH_SIDES"

setup: wrk-tool vegeta-tool
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
	$(UV) sync --frozen

# wrk measures capacity in the rounds; as root on Debian it is installed here, elsewhere the hint says how.
wrk-tool:
	@command -v wrk >/dev/null || \
	{ if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	  else echo "wrk not installed: benchmarks run without ceilings (Debian: apt-get install wrk)"; fi; }

# vegeta sends the open-loop load: pinned, built with the project's Go into .tools/bin (about a minute once).
VEGETA_VERSION := v12.13.0
vegeta-tool:
	@test -x .tools/bin/vegeta && grep -q "$(VEGETA_VERSION)" .tools/bin/.vegeta-version 2>/dev/null || \
	{ command -v go >/dev/null || { echo "Go is needed to build vegeta (https://go.dev/dl/)"; exit 1; }; \
	  mkdir -p .tools/bin && GOBIN="$(CURDIR)/.tools/bin" go install github.com/tsenart/vegeta/v12@$(VEGETA_VERSION) && \
	  echo "$(VEGETA_VERSION)" > .tools/bin/.vegeta-version; }

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

# make test in two passes, to stay under 13 minutes on 2 cores. The modules that start services but
# measure no load run two at a time (pytest-xdist, a module per worker, so each contract target's
# server starts once); then the load, fault and timing tests run one at a time, with lint beside
# them. PYTEST_ARGS (make test PYTEST_ARGS="-k contract") runs one plain pass instead.
PARALLEL_TESTS := tests/contract tests/test_unavailable.py tests/test_hostile.py tests/test_fuzz.py \
	tests/test_openapi.py tests/test_parity.py tests/test_per_request_costs.py tests/test_lifecycle.py \
	tests/test_interrupts.py tests/test_habits.py tests/test_layers.py tests/test_manifest.py \
	tests/test_paired.py tests/test_compare.py tests/test_plots.py tests/test_readme.py tests/test_report.py \
	tests/test_compose.py tests/test_migrate_existing.py tests/test_go.py

# The fast tier: every test that starts no server, database or load generator (statistics, parsing,
# verdicts, reports and charts on recorded real runs), in under a minute; `make test` runs it first.
test-fast: setup test-tools
	$(UV_RUN) pytest -m "not slow" -q

test: setup go-deps test-tools
ifeq ($(strip $(PYTEST_ARGS)),)
	$(UV_RUN) pytest -m "not slow" -q
	$(UV_RUN) pytest -m slow -n 2 --dist loadfile $(PARALLEL_TESTS)
	@mkdir -p .run; $(MAKE) -s lint > .run/lint.log 2>&1 & lint=$$!; \
	$(UV_RUN) pytest -m slow $(addprefix --ignore=,$(PARALLEL_TESTS)); tests=$$?; \
	wait $$lint; linted=$$?; cat .run/lint.log; \
	[ $$linted -eq 0 ] || echo "make lint failed (above)"; [ $$tests -eq 0 ] && [ $$linted -eq 0 ]
else
	$(MAKE) -s lint
	$(UV_RUN) pytest $(PYTEST_ARGS)
endif

list: setup
	$(CLI) list

serve: setup
	$(CLI) serve $(SERVICE) --variant $(VARIANT) --port $(PORT)

verify: setup
	$(CLI) verify $(SERVICE) --variant $(VARIANT)

bench: setup
	$(CLI) run $(BENCH_SIDES) $(LOAD_ARGS) --open-loop $(OPEN_LOOP) --open-loop-repeats $(OPEN_LOOP_REPEATS) \
		--open-loop-seconds $(OPEN_LOOP_SECONDS) --compare

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
	$(call given,ROUNDS,--rounds) $(call given,WINDOW,--window) $(call given,LOOKS,--looks) \
	$(call given,BLOCKS,--blocks)

bench-logging bench-pooling bench-drivers bench-workers bench-servers bench-ladder bench-serialization \
	bench-middleware bench-sync bench-orm bench-overload: bench-%: setup
	$(CLI) experiment $* $(EXP_ARGS)

# make compare A=results/<run-a> B=results/<run-b> [BASELINE=go-gin]
compare: setup
	$(CLI) compare $(A) $(B) $(if $(BASELINE),--baseline $(BASELINE))

report: setup
	$(CLI) report $(RUN)

readme: setup
	$(CLI) readme

# Re-runs the README's experiments here and judges every claim: make check-claims [EXPERIMENT=logging]
EXPERIMENT ?=
check-claims: setup go-deps
	$(CLI) check-claims $(if $(EXPERIMENT),--experiment $(EXPERIMENT)) $(if $(filter command line,$(origin ROUNDS)),--rounds $(ROUNDS))

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

# The fault suite (about 15 minutes): make robustness [FAULT=postgres-restart] [STACK=go-gin]
robustness: setup go-deps
	$(CLI) robustness $(if $(FAULT),--fault $(FAULT)) $(if $(STACK),--stack $(STACK))
