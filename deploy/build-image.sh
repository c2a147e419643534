#!/usr/bin/env bash
# Build the qemu_net node image with podman/buildah on a locally bootstrapped Debian base.
#
# No container registry is needed: the base image is made with debootstrap and imported with
# `podman import`, then deploy/Dockerfile is built FROM it (it takes the base as the build arg BASE).
#
# Usage: deploy/build-image.sh [--registry REGISTRY] [--push] [IMAGE]      (root, from anywhere)
#   IMAGE       default: localhost/qnet:VERSION-HASH12 (`python -m qemu_net.deploy.image`), the tag
#               `qnet deploy compose|k8s` render by default; it changes exactly when the image's content does
#   --registry  tag REGISTRY/qnet:VERSION-HASH12 as well (render with `qnet deploy k8s --registry REGISTRY`)
#   --push      push that tag (`podman push`; needs --registry and a login: `podman login REGISTRY`)
# Env:   QNET_CACHE_DIR  where the debootstrapped rootfs is cached (default /var/cache/qnet)
#        QNET_BASE       base image tag (default localhost/qnet-base:bookworm)
#        QNET_MIRROR     Debian mirror (default http://deb.debian.org/debian)
#        QNET_REBUILD_BASE=1  re-bootstrap even if the cache exists
#        QNET_NO_CACHE=1      build every layer afresh (no layer cache)
#        QNET_PIP_CA     CA bundle for pip in the build (default: the host's; empty: none), a build secret
set -euo pipefail

REGISTRY=""
PUSH=0
IMAGE=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --registry) REGISTRY="${2:?--registry needs a value}"; shift 2 ;;
        --registry=*) REGISTRY="${1#*=}"; shift ;;
        --push) PUSH=1; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        -*) echo "build-image.sh: unknown option $1" >&2; exit 2 ;;
        *) IMAGE="$1"; shift ;;
    esac
done
CACHE_DIR="${QNET_CACHE_DIR:-/var/cache/qnet}"
BASE="${QNET_BASE:-localhost/qnet-base:bookworm}"
MIRROR="${QNET_MIRROR:-http://deb.debian.org/debian}"
ROOTFS="$CACHE_DIR/bookworm-rootfs"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
TAG="$(PYTHONPATH="$REPO" "$PY" -m qemu_net.deploy.image --tag-only --root "$REPO")"
IMAGE="${IMAGE:-localhost/qnet:$TAG}"
REMOTE=""
[[ -n "$REGISTRY" ]] && REMOTE="${REGISTRY%/}/qnet:$TAG"
if [[ "$PUSH" == 1 && -z "$REMOTE" ]]; then echo "build-image.sh: --push needs --registry" >&2; exit 2; fi

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
# it) is given as the build secret `pipca`: mounted for the RUN steps that need it, never in a layer.
PIP_CA="${QNET_PIP_CA-/etc/ssl/certs/ca-certificates.crt}"
ca_args=()
cache_args=(--layers)
if [[ "${QNET_NO_CACHE:-0}" == 1 ]]; then cache_args=(--no-cache); fi
if [[ -n "$PIP_CA" && -f "$PIP_CA" ]]; then
    ca_args=(--secret "id=pipca,src=$PIP_CA" --build-arg QNET_PIP_CERT=/run/secrets/pipca)
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
if [[ -n "$REMOTE" ]]; then
    podman tag "$IMAGE" "$REMOTE"
    log "tagged $REMOTE"
    if [[ "$PUSH" == 1 ]]; then
        podman push "$REMOTE"
        log "pushed $REMOTE"
    fi
fi
echo "$IMAGE"
