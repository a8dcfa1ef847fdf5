#!/usr/bin/env bash
# Does a ceiling measure what plain wrk measures? For each service: serve it (`fastapi-load serve`,
# server and PostgreSQL pinned to CPU 0), then alternate, 5 rounds of 3 s each on CPU 1, the exact
# wrk command a ceiling runs (the scenario's Lua script, which judges every answer) and plain
# `wrk -t1 -c50` on the same path. Alternating on one running service keeps the machine's drift out
# of the ratio. Needs wrk and taskset; loads 127.0.0.1 only; about 6 minutes.
# Usage: docs/checks/ceiling-agreement.sh [PORT]   (prints one line per round, then medians)
set -euo pipefail
cd "$(dirname "$0")/../.."
port=${1:-8300}
log=$(mktemp)
descendants() { echo "$1"; for child in $(pgrep -P "$1"); do descendants "$child"; done; }
for service in go-gin fastapi-uvicorn fastapi-granian fastapi-gunicorn; do
  setsid make -s serve SERVICE="$service" PORT="$port" >"$log.$service" 2>&1 &
  serve=$!
  trap 'kill -INT -- -$serve 2>/dev/null || true' EXIT
  for _ in $(seq 120); do curl -sf "http://127.0.0.1:$port/ping/" >/dev/null && break; sleep 1; done
  for pid in $(descendants "$serve"); do taskset -apc 0 "$pid" >/dev/null 2>&1 || true; done
  for scenario in ping list; do
    path=/ping/; [ "$scenario" = list ] && path=/tasks/
    taskset -c 1 wrk -t1 -c50 -d2s "http://127.0.0.1:$port$path" >/dev/null
    for round in 1 2 3 4 5; do
      script=$(taskset -c 1 wrk --threads 1 --connections 50 --duration 3s --timeout 10s \
        --script "loadtests/wrk/$scenario.lua" "http://127.0.0.1:$port/" | awk '/Requests\/sec/ {print $2}')
      plain=$(taskset -c 1 wrk -t1 -c50 -d3s "http://127.0.0.1:$port$path" | awk '/Requests\/sec/ {print $2}')
      echo "$service $scenario r$round script $script plain $plain" | tee -a "$log"
    done
  done
  kill -INT -- -"$serve"; wait "$serve" || true
  trap - EXIT
done
python3 - "$log" <<'PY'
import re, statistics, sys
from collections import defaultdict
ratios = defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) (\S+) r\d script ([\d.]+) plain ([\d.]+)", line)
    if m:
        ratios[(m[1], m[2])].append(float(m[3]) / float(m[4]))
for (service, scenario), values in ratios.items():
    print(f"{service} {scenario}: ceiling/plain median {statistics.median(values):.2f} "
          f"(rounds {min(values):.2f}-{max(values):.2f})")
PY
