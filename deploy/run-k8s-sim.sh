#!/usr/bin/env bash
# Play the rendered Kubernetes manifests without a cluster: the StatefulSet's pods and the demo Job's
# containers run as podman containers, each in its own network namespace, with exactly the rendered
# topology (ConfigMap), hostnames (qnet-<i>, so a node takes its name from its ordinal), stable DNS
# names (qnet-<i>.qnet-nodes.<ns>.svc.cluster.local, resolved via --add-host), args, env, read-only
# root filesystem with /tmp writable, and the Job's init container (wait for health) and client.
# What it cannot show: the scheduler, probes run by a kubelet, and NetworkPolicy enforcement.
#
# Usage: deploy/run-k8s-sim.sh [K8S_DIR]     (root; default deploy/k8s, as `qnet deploy k8s -o` writes)
# Env:   QNET_IMAGE (default: the StatefulSet's image)   QNET_LOSS_PERCENT (default 0)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
K8S_DIR="$(cd "${1:-$REPO/deploy/k8s}" && pwd)"
LOSS="${QNET_LOSS_PERCENT:-0}"
SFX="$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')"
TAG="qk$SFX"

log() { printf '[run-k8s-sim %(%H:%M:%S)T +%ss] %s\n' -1 "$SECONDS" "$*" >&2; }
[[ $EUID -eq 0 ]] || { echo "run-k8s-sim.sh: needs root (ip netns, podman)" >&2; exit 2; }

# shellcheck source=deploy/lib-netns.sh
source "$REPO/deploy/lib-netns.sh"
TMP="$(mktemp -d "/tmp/$TAG.XXXX")"
PODS=()
cleanup() {
    local rc=$?
    set +e
    log "cleanup (exit code $rc)"
    for c in "${PODS[@]}" "$TAG-job"; do podman rm -f -t 0 "$c" >/dev/null 2>&1; done
    netns_lab_cleanup
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT INT TERM

IMAGE_FROM_STS="$(sed -n 's/^ *image: //p' "$K8S_DIR/statefulset.yaml" | head -1)"
IMAGE="${QNET_IMAGE:-$IMAGE_FROM_STS}"
podman image exists "$IMAGE" || "$REPO/deploy/build-image.sh" "$IMAGE"

log "reading the manifests in $K8S_DIR"
chmod 755 "$TMP"
# Parse with the image's own Python (it has PyYAML): write the ConfigMap's topology and a shell file
# with the StatefulSet's and the Job's commands.
cat > "$TMP/parse.py" <<'PY'
import glob, shlex, yaml
docs = {}
for f in glob.glob("/k8s/*.yaml"):
    for d in yaml.safe_load_all(open(f)):
        if d and d.get("kind") not in (None, "Kustomization"):
            docs[d["kind"]] = d
cm, sts, job = docs["ConfigMap"], docs["StatefulSet"], docs["Job"]
open("/out/topology.yaml", "w").write(cm["data"]["topology.yaml"])
node = sts["spec"]["template"]["spec"]["containers"][0]
init = job["spec"]["template"]["spec"]["initContainers"][0]
client = job["spec"]["template"]["spec"]["containers"][0]
def q(xs):
    return " ".join(shlex.quote(str(x)) for x in xs)
values = {
    "STS": shlex.quote(sts["metadata"]["name"]),
    "SVC": shlex.quote(sts["spec"]["serviceName"]),
    "NS": shlex.quote(sts["metadata"]["namespace"]),
    "REPLICAS": str(int(sts["spec"]["replicas"])),
    "NODE_ARGS": "(" + q(node.get("args", [])) + ")",
    "NODE_ENV": "(" + q(e["name"] + "=" + e["value"] for e in node.get("env", [])) + ")",
    "MOUNT": shlex.quote(node["volumeMounts"][0]["mountPath"]),
    "INIT_CMD": "(" + q(init["command"] + init.get("args", [])) + ")",
    "CLIENT_CMD": "(" + q(client["command"] + client.get("args", [])) + ")",
}
open("/out/env.sh", "w").write("".join(f"{k}={v}\n" for k, v in values.items()))
PY
podman run --rm --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --user 0 \
    -v "$K8S_DIR:/k8s:ro" -v "$TMP:/out" --entrypoint python "$IMAGE" /out/parse.py
# shellcheck disable=SC1091
source "$TMP/env.sh"
chmod 644 "$TMP/topology.yaml"
# The Secrets the pods mount at /etc/qnet-tls (what cert-manager or --tls-secrets-from provides on a cluster).
log "writing the network's certificates (qnet certs) to $TMP/tls, as the mounted TLS Secrets"
python3 -m qemu_net.cli.main certs --topology "$TMP/topology.yaml" --out "$TMP/tls" >/dev/null
chmod -R a+rX "$TMP/tls"
log "StatefulSet $STS: $REPLICAS pods behind $SVC.$NS; node args: ${NODE_ARGS[*]}"

netns_lab_init "$TAG"
ADD_HOSTS=()
for ((i = 0; i < REPLICAS; i++)); do
    netns_lab_host "$i" "10.79.0.$((i + 1))"
    ADD_HOSTS+=(--add-host "$STS-$i.$SVC.$NS.svc.cluster.local:10.79.0.$((i + 1))")
done
netns_lab_host job 10.79.0.100
if [[ "$LOSS" != 0 ]]; then log "dropping $LOSS % of frames on the bridge"; netns_lab_loss "$LOSS"; fi

ENV_ARGS=()
for e in "${NODE_ENV[@]}"; do ENV_ARGS+=(-e "$e"); done
COMMON=(--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --read-only --tmpfs /tmp
        "${ADD_HOSTS[@]}" -v "$TMP:$MOUNT:ro" -v "$TMP/tls:/etc/qnet-tls:ro")
JOB_ENV=(-e QNET_TLS_DIR=/etc/qnet-tls)

for ((i = 0; i < REPLICAS; i++)); do
    podman run -d --name "$TAG-$STS-$i" --hostname "$STS-$i" --network "ns:/run/netns/$TAG-$i" \
        "${COMMON[@]}" "${ENV_ARGS[@]}" "$IMAGE" "${NODE_ARGS[@]}" >/dev/null
    PODS+=("$TAG-$STS-$i")
    log "pod $STS-$i started (netns $TAG-$i, 10.79.0.$((i + 1)))"
done

t0=$SECONDS
log "job init container: ${INIT_CMD[*]}"
if ! podman run --rm --name "$TAG-job" --network "ns:/run/netns/$TAG-job" "${COMMON[@]}" \
        "${JOB_ENV[@]}" --entrypoint "${INIT_CMD[0]}" "$IMAGE" "${INIT_CMD[@]:1}"; then
    for p in "${PODS[@]}"; do log "--- $p"; podman logs "$p" 2>&1 | tail -20; done
    exit 1
fi
log "all pods serving after $((SECONDS - t0)) s"
for p in "${PODS[@]}"; do podman logs "$p" 2>&1 | grep -m1 "serving on" | sed "s/^/    [$p] /" >&2; done

t0=$SECONDS
log "job client container: ${CLIENT_CMD[*]}"
podman run --rm --name "$TAG-job" --network "ns:/run/netns/$TAG-job" "${COMMON[@]}" \
    "${JOB_ENV[@]}" --entrypoint "${CLIENT_CMD[0]}" "$IMAGE" "${CLIENT_CMD[@]:1}"
log "job finished in $((SECONDS - t0)) s"
[[ "$LOSS" != 0 ]] && log "frames dropped on the bridge: $(netns_lab_dropped)"

for p in "${PODS[@]}"; do
    t_stop=$(date +%s.%N)
    podman stop -t 15 "$p" >/dev/null
    log "$p: SIGTERM -> exited in $(elapsed_since "$t_stop") s with code $(podman inspect -f '{{.State.ExitCode}}' "$p")"
done
log "done"
