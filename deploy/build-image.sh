#!/usr/bin/env bash
# Build the qemu_net node image with podman/buildah on a locally bootstrapped Debian base.
#
# No container registry is needed: the base image is made with debootstrap and imported with
# `podman import`, then deploy/Dockerfile is built FROM it (it takes the base as the build arg BASE).
#
# Usage: deploy/build-image.sh [IMAGE_TAG]      (run as root from anywhere)
# Env:   QNET_CACHE_DIR  where the debootstrapped rootfs is cached (default /var/cache/qnet)
#        QNET_BASE       base image tag (default localhost/qnet-base:bookworm)
#        QNET_MIRROR     Debian mirror (default http://deb.debian.org/debian)
#        QNET_REBUILD_BASE=1  re-bootstrap even if the cache exists
#        QNET_NO_CACHE=1      build every layer afresh (no layer cache)
set -euo pipefail

IMAGE="${1:-localhost/qnet:dev}"
CACHE_DIR="${QNET_CACHE_DIR:-/var/cache/qnet}"
BASE="${QNET_BASE:-localhost/qnet-base:bookworm}"
MIRROR="${QNET_MIRROR:-http://deb.debian.org/debian}"
ROOTFS="$CACHE_DIR/bookworm-rootfs"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[build-image %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

if [[ $EUID -ne 0 ]]; then
    echo "build-image.sh: debootstrap and podman import need root" >&2
    exit 2
fi

t0=$SECONDS
if [[ "${QNET_REBUILD_BASE:-0}" == 1 ]]; then
    rm -rf "$ROOTFS"
fi
if [[ ! -f "$ROOTFS/.qnet-bootstrap-complete" ]]; then
    log "bootstrapping Debian bookworm (minbase + python3) into $ROOTFS"
    rm -rf "$ROOTFS"
    mkdir -p "$CACHE_DIR"
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
        bookworm "$ROOTFS" "$MIRROR"
    # Keep the base small: package lists and caches are not needed at runtime.
    rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb
    touch "$ROOTFS/.qnet-bootstrap-complete"
    log "bootstrap done in $((SECONDS - t0)) s"
else
    log "using cached rootfs $ROOTFS"
fi

if ! podman image exists "$BASE" || [[ "${QNET_REBUILD_BASE:-0}" == 1 ]]; then
    log "importing $ROOTFS as $BASE"
    tar --exclude=./.qnet-bootstrap-complete -C "$ROOTFS" -c . | podman import - "$BASE"
fi

# pip inside the build needs PyPI. Behind a TLS-intercepting proxy the host's CA bundle (which trusts
# it) is bind-mounted for the build's RUN steps only; QNET_PIP_CA= (empty) turns this off.
PIP_CA="${QNET_PIP_CA-/etc/ssl/certs/ca-certificates.crt}"
ca_args=()
cache_args=(--layers)
if [[ "${QNET_NO_CACHE:-0}" == 1 ]]; then cache_args=(--no-cache); fi
if [[ -n "$PIP_CA" && -f "$PIP_CA" ]]; then
    ca_args=(--volume "$PIP_CA:/run/qnet-build-ca.crt:ro" --build-arg QNET_PIP_CERT=/run/qnet-build-ca.crt)
fi

t1=$SECONDS
log "building $IMAGE from $BASE"
if command -v buildah >/dev/null 2>&1; then
    buildah bud --runtime runc --isolation chroot "${cache_args[@]}" "${ca_args[@]}" \
        --build-arg "BASE=$BASE" -f "$REPO/deploy/Dockerfile" -t "$IMAGE" "$REPO"
else
    podman build --runtime runc "${cache_args[@]}" "${ca_args[@]}" --build-arg "BASE=$BASE" -f "$REPO/deploy/Dockerfile" -t "$IMAGE" "$REPO"
fi
log "image build done in $((SECONDS - t1)) s (total $((SECONDS - t0)) s)"
podman image inspect "$IMAGE" --format '{{.Id}} {{.Size}}' >&2
