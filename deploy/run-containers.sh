#!/usr/bin/env bash
# Run three qemu_net node containers, each in its own network namespace, and a client against them.
#
#   netns qc<sfx>-br        bridge br0 (+ an nftables loss rule with QNET_LOSS_PERCENT)
#   netns qc<sfx>-alice     10.78.0.1   container: qnet node --name alice
#   netns qc<sfx>-repeater  10.78.0.2   container: qnet node --name repeater
#   netns qc<sfx>-bob       10.78.0.3   container: qnet node --name bob
#   netns qc<sfx>-client    10.78.0.10  container: python -m qemu_net.deploy.healthcheck, then the client
#
# Containers join the namespaces with `--network ns:/run/netns/NAME` (podman's own bridge network is
# not used) and resolve each other's names through --add-host, as compose/Kubernetes use DNS. The
# topology (addresses NAME:50051) is mounted read-only. Nothing is created in the root namespace; an
# EXIT trap removes the containers, namespaces and temp files whatever happens.
#
# Usage: deploy/run-containers.sh [QNET_ARGS...]   (root; default: `qnet run teleport --json`, then
#        `qnet demo --remote`, against the three containers)
# Env:   QNET_IMAGE (default localhost/qnet:VERSION-HASH12 of this tree; built with deploy/build-image.sh if missing)
#        QNET_LOSS_PERCENT (default 0)   QNET_WAIT_S (default 180)
set -euo pipefail

LOSS="${QNET_LOSS_PERCENT:-0}"
WAIT_S="${QNET_WAIT_S:-180}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${QNET_IMAGE:-$(PYTHONPATH="$REPO" "${PYTHON:-python3}" -m qemu_net.deploy.image --root "$REPO")}"
SFX="$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')"
TAG="qc$SFX"
NODES=(alice repeater bob)
declare -A IP=([alice]=10.78.0.1 [repeater]=10.78.0.2 [bob]=10.78.0.3 [client]=10.78.0.10)
# Client commands (arguments to `qnet`), run one after the other from the client namespace.
CLIENTS=("run teleport --topology /etc/qnet/topology.yaml --json"
         "demo --topology /etc/qnet/topology.yaml --remote")
if [[ $# -gt 0 ]]; then CLIENTS=("$*"); fi

log() { printf '[run-containers %(%H:%M:%S)T +%ss] %s\n' -1 "$SECONDS" "$*" >&2; }

[[ $EUID -eq 0 ]] || { echo "run-containers.sh: needs root (ip netns, podman)" >&2; exit 2; }

# shellcheck source=deploy/lib-netns.sh
source "$REPO/deploy/lib-netns.sh"
TMP="$(mktemp -d "/tmp/$TAG.XXXX")"
cleanup() {
    local rc=$?
    set +e
    log "cleanup (exit code $rc)"
    for n in "${NODES[@]}" client; do
        podman rm -f -t 0 "$TAG-$n" >/dev/null 2>&1
    done
    netns_lab_cleanup
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT INT TERM

if ! podman image exists "$IMAGE"; then
    log "image $IMAGE missing: building it"
    "$REPO/deploy/build-image.sh" "$IMAGE"
fi

log "creating namespaces $TAG-{br,${NODES[*]// /,},client}"
netns_lab_init "$TAG"
ADD_HOSTS=()
for n in "${NODES[@]}" client; do
    netns_lab_host "$n" "${IP[$n]}"
    ADD_HOSTS+=(--add-host "$n:${IP[$n]}")
done
if [[ "$LOSS" != 0 ]]; then
    log "dropping $LOSS % of frames on the bridge (nftables)"
    netns_lab_loss "$LOSS"
fi

cat > "$TMP/topology.yaml" <<YAML
name: demo
nodes:
  - {name: alice, address: "alice:50051", peer_address: "alice:50052"}
  - {name: repeater, address: "repeater:50051", peer_address: "repeater:50052"}
  - {name: bob, address: "bob:50051", peer_address: "bob:50052"}
links:
  - {nodes: [alice, repeater], length_km: 10}
  - {nodes: [repeater, bob], length_km: 10}
classical_links:
  - {nodes: [alice, bob], length_km: 20}
seed: 7
YAML
chmod 755 "$TMP"; chmod 644 "$TMP/topology.yaml"

# Mutual TLS: the network's certificates (qnet certs), readable by the image's user in this temporary copy.
log "writing the network's certificates (qnet certs) to $TMP/tls"
python3 -m qemu_net.cli.main certs --topology "$TMP/topology.yaml" --out "$TMP/tls" >/dev/null
chmod -R a+rX "$TMP/tls"

COMMON=(--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024
        --read-only --tmpfs /tmp "${ADD_HOSTS[@]}"
        -v "$TMP/topology.yaml:/etc/qnet/topology.yaml:ro" -v "$TMP/tls:/etc/qnet-tls:ro"
        -e QNET_TLS_DIR=/etc/qnet-tls)

for n in "${NODES[@]}"; do
    podman run -d --name "$TAG-$n" --hostname "$n" --network "ns:/run/netns/$TAG-$n" "${COMMON[@]}" \
        "$IMAGE" --topology /etc/qnet/topology.yaml --bind 0.0.0.0 --tls-dir /etc/qnet-tls --name "$n" >/dev/null
    log "started container $TAG-$n in netns $TAG-$n (${IP[$n]})"
done

t_wait=$SECONDS
log "waiting (at most $WAIT_S s) for every node to report SERVING, from the client namespace"
if ! podman run --rm --name "$TAG-client" --network "ns:/run/netns/$TAG-client" "${COMMON[@]}" \
        --entrypoint python "$IMAGE" -m qemu_net.deploy.healthcheck \
        --topology /etc/qnet/topology.yaml --wait-s "$WAIT_S"; then
    for n in "${NODES[@]}"; do log "--- logs of $n"; podman logs "$TAG-$n" 2>&1 | tail -20; done
    exit 1
fi
log "all nodes serving after $((SECONDS - t_wait)) s"

for cmd in "${CLIENTS[@]}"; do
    t_run=$SECONDS
    log "client: qnet $cmd"
    # shellcheck disable=SC2086  # word splitting of the command is intended
    podman run --rm --name "$TAG-client" --network "ns:/run/netns/$TAG-client" "${COMMON[@]}" \
        --entrypoint qnet "$IMAGE" $cmd
    log "client finished in $((SECONDS - t_run)) s"
done

if [[ "$LOSS" != 0 ]]; then
    log "frames dropped on the bridge: $(netns_lab_dropped)"
fi

log "graceful stop: SIGTERM to every node (podman stop -t 15)"
for n in "${NODES[@]}"; do
    t_stop=$(date +%s.%N)
    podman stop -t 15 "$TAG-$n" >/dev/null
    code="$(podman inspect -f '{{.State.ExitCode}}' "$TAG-$n")"
    log "$n stopped in $(elapsed_since "$t_stop") s, exit code $code"
    podman logs "$TAG-$n" 2>&1 | tail -3 | sed "s/^/    [$n] /" >&2
done
log "done"
