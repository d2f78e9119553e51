#!/usr/bin/env bash
# Builds the three Aura images from containers/<name> on this machine's Docker engine and
# prints each image's size and build time. Run `bash scripts/docker-setup.sh` first (engine
# and the debootstrap base image). MongoDB's repository is unreachable here, so the local
# databases image is built without it unless WITH_MONGODB=true is set.
#
#   BASE_IMAGE     base to build FROM          (default aura-base:bookworm)
#   WITH_MONGODB   true|false                  (default false on this machine)
#   IMAGE_TAG      tag of the three images     (default local)
#   IMAGE_PREFIX   repository name prefix      (default aura)
#   NO_CACHE=1     build without Docker's layer cache (to measure a cold build)
#   RDS_CA_BUNDLE_URL     where the service desk image fetches the RDS CA bundle, or none
#                         (default none: this machine cannot reach AWS; `pulumi up` builds with
#                         the Dockerfile's default, AWS's truststore, checked against the pin)
#   RDS_CA_BUNDLE_SHA256  the bundle's pinned sha256 (default: the Dockerfile's)
set -euo pipefail

cd "$(dirname "$0")/.."
BASE_IMAGE="${BASE_IMAGE:-aura-base:bookworm}"
WITH_MONGODB="${WITH_MONGODB:-false}"
IMAGE_TAG="${IMAGE_TAG:-local}"
IMAGE_PREFIX="${IMAGE_PREFIX:-aura}"
log() { printf '[build-images %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 \
  || { log "base image $BASE_IMAGE is missing: run 'bash scripts/docker-setup.sh' first"; exit 1; }
# The images run as non-root users, who cannot even exec /bin/sh when / is not searchable by
# all: a base imported from a `mktemp -d` directory has / at 0700, and a Dockerfile cannot
# change the mode of / (it is not part of any layer). Build on a copy with / at 0755 then.
root_mode="$(docker run --rm --network host --entrypoint /usr/bin/stat "$BASE_IMAGE" -c %a /)"
if [ "$root_mode" != 755 ]; then
  base_id="$(docker image inspect --format '{{.Id}}' "$BASE_IMAGE")"
  fixed="$BASE_IMAGE-root755-${base_id:7:12}"
  if ! docker image inspect "$fixed" >/dev/null 2>&1; then
    log "base image $BASE_IMAGE has / at mode $root_mode: making $fixed with / at 0755"
    rootfs="$(mktemp -d /tmp/aura-base-root755.XXXXXX)"
    container="$(docker create --network host "$BASE_IMAGE" /bin/true)"
    docker export "$container" | tar -C "$rootfs" -x
    docker rm "$container" >/dev/null
    chmod 0755 "$rootfs"
    rm -f "$rootfs/.dockerenv"
    tar -C "$rootfs" -c . | docker import - "$fixed" >/dev/null
    rm -rf "$rootfs"
  fi
  log "building on $fixed ($BASE_IMAGE has / at mode $root_mode)"
  BASE_IMAGE="$fixed"
fi

declare -A seconds
# The two apps share their first (apt) layer, so the second one reuses the first one's cache.
names=(databases api-gateway service-desk-host)
for name in "${names[@]}"; do
  image="$IMAGE_PREFIX-$name:$IMAGE_TAG"
  args=(--network host --build-arg "BASE_IMAGE=$BASE_IMAGE" --tag "$image")
  [ "$name" = databases ] && args+=(--build-arg "WITH_MONGODB=$WITH_MONGODB")
  if [ "$name" = service-desk-host ]; then
    args+=(--build-arg "RDS_CA_BUNDLE_URL=${RDS_CA_BUNDLE_URL:-none}")
    [ -n "${RDS_CA_BUNDLE_SHA256:-}" ] && args+=(--build-arg "RDS_CA_BUNDLE_SHA256=$RDS_CA_BUNDLE_SHA256")
  fi
  # The second app still shares the first one's layers: only the first build of each skips the cache.
  [ "${NO_CACHE:-0}" = 1 ] && [ "$name" != service-desk-host ] && args+=(--no-cache)
  log "building $image from containers/$name"
  start=$(date +%s)
  # Full output only on failure: a vfs build of the databases image prints thousands of lines.
  if ! docker build "${args[@]}" "containers/$name" >"/tmp/aura-build-$name.log" 2>&1; then
    tail -n 40 "/tmp/aura-build-$name.log"
    log "FAILED: $image (full log: /tmp/aura-build-$name.log)"
    exit 1
  fi
  seconds[$name]=$(($(date +%s) - start))
  log "built $image in ${seconds[$name]} s"
done

printf '\n%-32s %10s %12s\n' IMAGE SIZE "BUILD TIME"
for name in "${names[@]}"; do
  image="$IMAGE_PREFIX-$name:$IMAGE_TAG"
  size=$(docker image inspect --format '{{.Size}}' "$image")
  printf '%-32s %7d MB %10d s\n' "$image" $((size / 1000000)) "${seconds[$name]}"
done
