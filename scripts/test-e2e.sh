#!/usr/bin/env bash
# `npm run test:e2e`: the local runner (npm run local) against the real Docker engine and the real
# images. Sets Docker up as DESIGN.md says, (re)builds the three images (a no-op through the build
# cache when `npm run test:containers` built them already), then runs test/e2e with its own
# mocha config. Timings go to test-results/e2e-timings.json; each task's events and container
# output to test-results/e2e-<scenario>.log.
set -euo pipefail

cd "$(dirname "$0")/.."
started=$(date +%s)
log() { printf '[test-e2e %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

log "docker setup"
bash scripts/docker-setup.sh

log "building images (cached layers make this fast after test:containers)"
bash scripts/build-images.sh

# The task runs with host networking, so it owns 127.0.0.1:5432/6379/27017/8000/8001 while it
# runs. Suites that use those ports (test:containers) take the same lock to run one at a time;
# the tests also wait for the ports to be free before each task.
PORTS_LOCK="${AURA_PORTS_LOCK:-/tmp/aura-host-ports.lock}"
log "running test/e2e (several minutes: real tasks, real health checks; lock $PORTS_LOCK)"
flock -o "$PORTS_LOCK" npx mocha --config test/e2e/.mocharc.json

log "done in $(($(date +%s) - started)) s; timings in test-results/e2e-timings.json"
