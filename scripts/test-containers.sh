#!/usr/bin/env bash
# `npm run test:containers`: proves the three images on a real Docker engine. Prepares the
# engine and base image, builds the images, frees the ports the task uses, then runs the mocha
# suite in test/containers, which starts the containers with --network host (the host's
# loopback plays the task's shared 127.0.0.1) and tests them over real HTTP.
#
#   WITH_MONGODB   build the databases image with MongoDB (default false: its repository is
#                  unreachable from this machine). The suite reads it to know what to expect.
#   SKIP_BUILD=1   reuse the images already built (for iterating on the tests).
#   KEEP_CONTAINERS=1  leave the containers running afterwards (for debugging).
set -euo pipefail

cd "$(dirname "$0")/.."
export WITH_MONGODB="${WITH_MONGODB:-false}"
log() { printf '[test-containers %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
started=$(date +%s)


# Everything the suite starts carries this label, so cleanup never touches anything else.
TEST_LABEL=org.aura.test=containers
remove_test_containers() {
  local ids
  ids="$(docker ps -aq --filter "label=$TEST_LABEL" 2>/dev/null || true)"
  if [ -n "$ids" ]; then
    log "removing test containers"
    # shellcheck disable=SC2086
    docker rm -f $ids >/dev/null
  fi
  local volumes
  volumes="$(docker volume ls -q --filter "label=$TEST_LABEL" 2>/dev/null || true)"
  # shellcheck disable=SC2086
  [ -z "$volumes" ] || docker volume rm $volumes >/dev/null
}

log "preparing the Docker engine and base image (scripts/docker-setup.sh)"
bash scripts/docker-setup.sh
on_exit() {
  if [ "${KEEP_CONTAINERS:-0}" = 1 ]; then
    log "KEEP_CONTAINERS=1: leaving the test containers running"
  else
    remove_test_containers
  fi
}
trap on_exit EXIT
remove_test_containers

if [ "${SKIP_BUILD:-0}" = 1 ]; then
  log "SKIP_BUILD=1: using the images already built"
else
  log "building the images (WITH_MONGODB=$WITH_MONGODB)"
  bash scripts/build-images.sh
fi

# The suite owns the task's host ports while it runs; test:e2e takes the same lock, so the two
# never overlap. Taken only now: dockerd, which docker-setup.sh may have just started, must not
# inherit the lock's descriptor, or the lock would outlive this script.
PORTS_LOCK="${AURA_PORTS_LOCK:-/tmp/aura-host-ports.lock}"
exec 9>"$PORTS_LOCK"
log "waiting for the host-ports lock $PORTS_LOCK"
flock 9

# The containers use the host network, so the ports must be free. Debian's own PostgreSQL or
# Redis service may be running on this machine: stop it (and say so) rather than test against it.
port_in_use() { ss -ltnH "sport = :$1" | grep -q .; }
for port in 5432 6379 27017 8000 8001 8010 18001; do
  port_in_use "$port" || continue
  holder="$(ss -ltnpH "sport = :$port")"
  owner="$(sed -n 's/.*users:(("\([^"]*\)".*/\1/p' <<<"$holder" | head -n1)"
  pid="$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' <<<"$holder" | head -n1)"
  if [ -n "$pid" ] && grep -qs docker "/proc/$pid/cgroup"; then
    # Another container on the host network (someone else's run): not ours to stop.
    log "port $port is held by '$owner' in a Docker container; stop it and retry:"
    docker ps --format '  {{.Names}}  {{.Image}}  {{.Status}}'
    exit 1
  fi
  log "port $port is taken by '${owner:-unknown}' on the host"
  case "$owner" in
    postgres*)
      log "stopping the host's PostgreSQL service"
      if command -v pg_ctlcluster >/dev/null; then
        pg_lsclusters -h | awk '$4 == "online" {print $1, $2}' \
          | while read -r version cluster; do pg_ctlcluster "$version" "$cluster" stop; done
      fi
      service postgresql stop >/dev/null 2>&1 || true
      ;;
    redis-server*)
      log "stopping the host's Redis service"
      service redis-server stop >/dev/null 2>&1 || true
      ;;
  esac
  sleep 1
  if port_in_use "$port"; then
    log "port $port is still in use ($(ss -ltnpH "sport = :$port")); stop that process and retry"
    exit 1
  fi
done

log "running the container tests (they start, stop and restart the containers)"
npx mocha --config test/containers/.mocharc.json
log "all container tests passed in $(($(date +%s) - started)) s"
