#!/usr/bin/env bash
# Runs test/registry against real registries (Debian's docker-registry, distribution 2.8) on
# 127.0.0.1, so the image platform check is proven against the same HTTP API ECR speaks, not a
# mock. Three instances, each on a free port with its own temp storage:
#   open   - no auth (like a local registry)
#   basic  - htpasswd Basic auth (like ECR with user AWS and the authorization token)
#   token  - Bearer token auth (like Docker Hub / GHCR); the token service runs inside the tests
#            and signs JWTs with a throwaway EC key whose self-signed cert this registry trusts.
# Needs no Docker engine. Everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[test-registry %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

if [ ! -x /usr/bin/docker-registry ]; then
  log "installing docker-registry"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker-registry openssl >/dev/null
fi
# The package may start its own service on :5000; we never use that port, so it can stay.

work="$(mktemp -d -t aura-registry.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# Test-only credentials. The hash is bcrypt (the only scheme the registry's htpasswd accepts) of
# REGISTRY_PASSWORD at cost 5, made with python3 -c "import crypt; print(crypt.crypt('aura-test-password',
# crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1<<5)))"; fixed so that neither htpasswd nor Python is needed.
export AURA_TEST_REGISTRY_USERNAME="aura-test"
export AURA_TEST_REGISTRY_PASSWORD="aura-test-password"
echo 'aura-test:$2b$05$ljXR.OlQZLDqhe6XiwgsxeDcLAnLRn29PYPodGF/5i6EGu3MpmOLa' >"$work/htpasswd"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj "/CN=aura-test-token-issuer" -keyout "$work/token.key" -out "$work/token.crt" 2>/dev/null

open_port="$(free_port)"
basic_port="$(free_port)"
token_port="$(free_port)"
token_service_port="$(free_port)"

write_config() { # name port auth-yaml
  mkdir -p "$work/$1"
  cat >"$work/$1.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/$1
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$2
$3
EOF
}
write_config open "$open_port" ""
write_config basic "$basic_port" "auth:
  htpasswd:
    realm: aura-test-basic
    path: $work/htpasswd"
write_config token "$token_port" "auth:
  token:
    realm: http://127.0.0.1:$token_service_port/token
    service: aura-test-registry
    issuer: aura-test-issuer
    rootcertbundle: $work/token.crt"

for name in open basic token; do
  /usr/bin/docker-registry serve "$work/$name.yml" >"$work/$name.log" 2>&1 &
  pids+=("$!")
done

wait_for() { # name port: the API root answers 200 (open) or 401 (auth) once it is serving
  for _ in $(seq 1 50); do
    node -e 'fetch(process.argv[1]).then((r) => process.exit([200, 401].includes(r.status) ? 0 : 1), () => process.exit(1))' \
      "http://127.0.0.1:$2/v2/" && return 0
    sleep 0.1
  done
  log "registry $1 did not start on 127.0.0.1:$2"
  cat "$work/$1.log"
  exit 1
}
wait_for open "$open_port"
wait_for basic "$basic_port"
wait_for token "$token_port"
log "registries up: open :$open_port, basic :$basic_port, token :$token_port (token service :$token_service_port)"

export AURA_TEST_REGISTRY_OPEN="127.0.0.1:$open_port"
export AURA_TEST_REGISTRY_BASIC="127.0.0.1:$basic_port"
export AURA_TEST_REGISTRY_TOKEN="127.0.0.1:$token_port"
export AURA_TEST_TOKEN_SERVICE_PORT="$token_service_port"
export AURA_TEST_TOKEN_KEY="$work/token.key"
export AURA_TEST_TOKEN_CERT="$work/token.crt"

status=0
npx mocha --config test/registry/.mocharc.json "$@" || status=$?
if [ "$status" -ne 0 ]; then
  for name in open basic token; do
    log "--- $name registry log"
    tail -n 30 "$work/$name.log"
  done
fi
exit "$status"
