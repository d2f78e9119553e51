#!/usr/bin/env bash
# `npm run test:faults`: fault injection on the real engine (test/faults). SIGKILLs the
# databases container at chosen points of a first start and at a seeded random moment, changes
# every password, kills it under load, and runs the MongoDB paths against stand-ins. Builds the
# images first (a no-op through the cache after test:containers), then holds the host-ports
# lock that test:containers and test:e2e take, since its containers use the task's ports.
#
#   SKIP_BUILD=1       reuse the images already built
#   KEEP_CONTAINERS=1  leave the containers and volumes afterwards (for debugging)
#   FAULT_SEED=<n>     repeat a run's random kill moment (each run prints its seed)
set -euo pipefail

cd "$(dirname "$0")/.."
log() { printf '[test-faults %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
started=$(date +%s)

LABEL=org.aura.test=faults
remove_fault_containers() {
  local ids volumes
  ids="$(docker ps -aq --filter "label=$LABEL" 2>/dev/null || true)"
  # shellcheck disable=SC2086
  [ -z "$ids" ] || docker rm -f $ids >/dev/null
  volumes="$(docker volume ls -q --filter "label=$LABEL" 2>/dev/null || true)"
  # shellcheck disable=SC2086
  [ -z "$volumes" ] || docker volume rm $volumes >/dev/null
}

log "preparing the Docker engine and base image (scripts/docker-setup.sh)"
bash scripts/docker-setup.sh
if [ "${SKIP_BUILD:-0}" = 1 ]; then
  log "SKIP_BUILD=1: using the images already built"
else
  log "building the images"
  bash scripts/build-images.sh
fi

# Taken only after docker-setup.sh: dockerd must not inherit the lock's descriptor.
PORTS_LOCK="${AURA_PORTS_LOCK:-/tmp/aura-host-ports.lock}"
exec 9>"$PORTS_LOCK"
log "waiting for the host-ports lock $PORTS_LOCK"
flock 9
on_exit() {
  if [ "${KEEP_CONTAINERS:-0}" = 1 ]; then
    log "KEEP_CONTAINERS=1: leaving the fault containers and volumes"
  else
    remove_fault_containers
  fi
}
trap on_exit EXIT
remove_fault_containers

busy=()
for port in 5432 6379 27017 8000 8001; do
  ss -ltnH "sport = :$port" | grep -q . && busy+=("$port")
done
if [ "${#busy[@]}" -gt 0 ]; then
  log "ports ${busy[*]} are in use on this machine; stop what holds them and retry:"
  ss -ltnpH | grep -E ":($(IFS='|'; echo "${busy[*]}")) " || true
  exit 1
fi

log "running the fault tests (several SIGKILLs and restarts, a few minutes)"
npx mocha --config test/faults/.mocharc.json
log "all fault tests passed in $(($(date +%s) - started)) s"
