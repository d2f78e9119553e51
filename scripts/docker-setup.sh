#!/usr/bin/env bash
# Prepares a fresh Debian machine of this kind to build and run the Aura images:
# installs Debian's Docker engine, starts dockerd with the flags this sandbox needs
# (no iptables, no bridge, vfs storage), and makes the bookworm base image with
# debootstrap because Docker Hub is not reachable. Idempotent: each step is skipped
# when its result is already there.
set -euo pipefail

BASE_IMAGE="${AURA_BASE_IMAGE:-aura-base:bookworm}"
log() { printf '[docker-setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

need_pkgs=()
command -v dockerd >/dev/null || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null || need_pkgs+=(debootstrap)
[ -x /usr/bin/docker-registry ] || need_pkgs+=(docker-registry)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
# The package's own service would fight with ours over the port; tests start their own registry.
pkill -f '^/usr/bin/docker-registry serve /etc/docker/registry/config.yml' 2>/dev/null || true

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  mkdir -p /var/log
  # Started from a test script that may hold a lock on a descriptor: dockerd outlives the
  # script, so it must not keep descriptors 3-9 open (it would hold the lock forever).
  nohup dockerd --storage-driver=vfs --iptables=false --bridge=none >/var/log/aura-dockerd.log 2>&1 \
    3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { log "dockerd did not start"; tail -n 50 /var/log/aura-dockerd.log; exit 1; }
fi
log "dockerd is up ($(docker version --format '{{.Server.Version}}'))"

if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  # The machine's own apt mirror: debootstrap's built-in default is not reachable here.
  mirror="$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1)"
  mirror="${mirror:-$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)}"
  [ -n "$mirror" ] || { log "no Debian mirror found in apt sources"; exit 1; }
  rootfs="$(mktemp -d /tmp/aura-rootfs.XXXXXX)"
  log "debootstrap bookworm from $mirror (a few minutes)"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/tmp/aura-debootstrap.log 2>&1 \
    || { tail -n 30 /tmp/aura-debootstrap.log; exit 1; }
  # Same sources inside the image as on the machine, so `apt-get` in Dockerfiles reaches them.
  rm -f "$rootfs/etc/apt/sources.list"
  mkdir -p "$rootfs/etc/apt/sources.list.d"
  cp /etc/apt/sources.list.d/*.sources "$rootfs/etc/apt/sources.list.d/" 2>/dev/null || true
  rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
  # mktemp made the directory 0700; as the image's / it would lock out every non-root user.
  chmod 0755 "$rootfs"
  tar -C "$rootfs" -c . | docker import - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
  log "imported $BASE_IMAGE"
fi
log "base image $BASE_IMAGE ready"
