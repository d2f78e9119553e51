#!/usr/bin/env bash
# `npm run bench:load`: the task's containers under wrk through the gateway (test/bench/load.ts).
# A benchmark, not a test: run it on a quiet machine, under the engine lock when it builds or
# uses the :local images (`flock /tmp/aura-engine.lock npm run bench:load`). Its containers run
# in a network namespace of their own, so it needs none of the task's host ports.
#
#   SKIP_BUILD=1   reuse the images already built
#   IMAGE_TAG      images aura-*:<tag> (default local)
#   BENCH_CONNECTIONS, BENCH_DURATION, BENCH_THREADS, BENCH_TASK_CPU, BENCH_JSON: see load.ts
set -euo pipefail

cd "$(dirname "$0")/.."
log() { printf '[bench-load %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

if ! command -v wrk >/dev/null; then
  log "installing wrk (Debian's package)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
command -v nsenter >/dev/null || { log "nsenter (util-linux) is missing"; exit 1; }

bash scripts/docker-setup.sh
if [ "${SKIP_BUILD:-0}" = 1 ]; then
  log "SKIP_BUILD=1: using the images already built"
else
  bash scripts/build-images.sh
fi
log "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) on $(nproc) CPUs before the run"
npx tsx test/bench/load.ts
log "load: $(cut -d' ' -f1-3 /proc/loadavg) after the run"
