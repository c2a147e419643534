#!/usr/bin/env bash
# Play the rendered Kubernetes manifests without a cluster: the StatefulSet's pods and the demo Job's
# containers run as podman containers, each in its own network namespace, with exactly the rendered
# topology (ConfigMap), hostnames (qnet-<i>, so a node takes its name from its ordinal), stable DNS
# names (the namespace-relative qnet-<i>.qnet-nodes and qnet-<i>.qnet-nodes.<ns>.svc.cluster.local,
# resolved via --add-host, <ns> being whatever namespace the manifests name), args, env (downward API
# values filled in as a kubelet would), read-only root filesystem with /tmp writable, the readiness
# each pod reports (the readiness probe's health service on its plaintext probe port, asked as a
# kubelet would), and the Job's init container (wait for
# health) and client. What it cannot show: the scheduler, probes run by a kubelet, NetworkPolicy.
#
# Usage: deploy/run-k8s-sim.sh [K8S_DIR]     (root; default deploy/k8s, as `qnet deploy k8s -o` writes)
#   K8S_DIR may be a kustomize overlay (e.g. `namespace: other` over deploy/k8s): it is built with
#   `kubectl kustomize` first, as `kubectl apply -k` would.
# Env:   QNET_IMAGE (default: the StatefulSet's image)   QNET_LOSS_PERCENT (default 0)
#
# It creates nothing outside what it removes: network namespaces (each veth inside them), containers
# and a temp dir. Every container joins one of those namespaces or runs with --network none, so
# podman sets up no network of its own (no bridge, no NAT or filter rules on the host).
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

mkdir -p "$TMP/k8s"
if [[ -f "$K8S_DIR/kustomization.yaml" ]] && command -v kubectl >/dev/null 2>&1; then
    kubectl kustomize "$K8S_DIR" > "$TMP/k8s/all.yaml"   # what `kubectl apply -k` would apply
    log "built $K8S_DIR with kubectl kustomize"
else
    for f in "$K8S_DIR"/*.yaml; do [[ "$(basename "$f")" == kustomization.yaml ]] || cp "$f" "$TMP/k8s/"; done
fi
IMAGE_FROM_STS="$(sed -n 's/^ *image: //p' "$TMP/k8s"/*.yaml | head -1)"
IMAGE="${QNET_IMAGE:-$IMAGE_FROM_STS}"
podman image exists "$IMAGE" || "$REPO/deploy/build-image.sh" "$IMAGE"

log "reading the manifests in $K8S_DIR"
chmod -R a+rX "$TMP"
# Parse with the image's own Python (it has PyYAML): write the ConfigMap's topology and a shell file
# with the StatefulSet's and the Job's commands.
cat > "$TMP/parse.py" <<'PY'
import glob, re, shlex, yaml
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
UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
def quantity(v):
    m = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(v))
    return int(float(m.group(1)) * UNITS[m.group(2)])
def env_value(e):  # what a kubelet puts into the variable (downward API included)
    if "value" in e:
        return str(e["value"])
    src = e["valueFrom"]
    if "fieldRef" in src:
        path = src["fieldRef"]["fieldPath"]
        return {"metadata.namespace": sts["metadata"]["namespace"]}[path]
    ref = src["resourceFieldRef"]
    kind, res = ref["resource"].split(".", 1)
    return str(quantity(node["resources"][kind][res]))
probe = node.get("readinessProbe", {}).get("grpc", {})
values = {
    "STS": shlex.quote(sts["metadata"]["name"]),
    "SVC": shlex.quote(sts["spec"]["serviceName"]),
    "NS": shlex.quote(sts["metadata"]["namespace"]),
    "REPLICAS": str(int(sts["spec"]["replicas"])),
    "NODE_ARGS": "(" + q(node.get("args", [])) + ")",
    "NODE_ENV": "(" + q(e["name"] + "=" + env_value(e) for e in node.get("env", [])) + ")",
    "READY_SERVICE": shlex.quote(probe.get("service", "")),
    "READY_PORT": str(int(probe.get("port", 0))),
    # The StatefulSet's PersistentVolumeClaims (e.g. the key store): a writable per-pod tmpfs here.
    "CLAIM_MOUNTS": "(" + q(m["mountPath"] for m in node.get("volumeMounts", [])
                          if m["name"] in {c["metadata"]["name"] for c in sts["spec"].get("volumeClaimTemplates", [])}) + ")",
    "MOUNT": shlex.quote(node["volumeMounts"][0]["mountPath"]),
    "INIT_CMD": "(" + q(init["command"] + init.get("args", [])) + ")",
    "CLIENT_CMD": "(" + q(client["command"] + client.get("args", [])) + ")",
}
open("/out/env.sh", "w").write("".join(f"{k}={v}\n" for k, v in values.items()))
PY
podman run --rm --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --user 0 \
    --network none -v "$TMP/k8s:/k8s:ro" -v "$TMP:/out" --entrypoint python "$IMAGE" /out/parse.py
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
    ADD_HOSTS+=(--add-host "$STS-$i.$SVC:10.79.0.$((i + 1))"
                --add-host "$STS-$i.$SVC.$NS.svc.cluster.local:10.79.0.$((i + 1))")
done
netns_lab_host job 10.79.0.100
if [[ "$LOSS" != 0 ]]; then log "dropping $LOSS % of frames on the bridge"; netns_lab_loss "$LOSS"; fi

ENV_ARGS=()
for e in "${NODE_ENV[@]}"; do ENV_ARGS+=(-e "$e"); done
COMMON=(--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --read-only --tmpfs /tmp
        "${ADD_HOSTS[@]}" -v "$TMP:$MOUNT:ro" -v "$TMP/tls:/etc/qnet-tls:ro")
JOB_ENV=(-e QNET_TLS_DIR=/etc/qnet-tls)

CLAIM_ARGS=()
for m in "${CLAIM_MOUNTS[@]}"; do CLAIM_ARGS+=(--tmpfs "$m:rw,mode=1777"); done
for ((i = 0; i < REPLICAS; i++)); do
    podman run -d --name "$TAG-$STS-$i" --hostname "$STS-$i" --network "ns:/run/netns/$TAG-$i" \
        "${COMMON[@]}" "${CLAIM_ARGS[@]}" "${ENV_ARGS[@]}" "$IMAGE" "${NODE_ARGS[@]}" >/dev/null
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
for p in "${PODS[@]}"; do
    podman logs "$p" > "$TMP/$p.log" 2>&1   # (to a file: a pipe closed early by grep -m1 is SIGPIPE under pipefail)
    grep -m1 "serving on" "$TMP/$p.log" | sed "s/^/    [$p] /" >&2
done
if [[ -n "$READY_SERVICE" ]]; then
    # As a kubelet asks: plaintext gRPC on each pod's probe port (the node's own health service there).
    log "readiness probe (health service $READY_SERVICE) on each pod's port $READY_PORT: every pod's linked peers reachable"
    READY_ADDRS=()
    for ((i = 0; i < REPLICAS; i++)); do READY_ADDRS+=("$STS-$i.$SVC:$READY_PORT"); done
    podman run --rm --name "$TAG-job" --network "ns:/run/netns/$TAG-job" "${COMMON[@]}" --entrypoint python \
        "$IMAGE" -c 'import sys; from qemu_net.deploy.healthcheck import wait_all
sys.exit(0 if wait_all(sys.argv[2:], wait_s=60, service=sys.argv[1]) else 1)' "$READY_SERVICE" "${READY_ADDRS[@]}"
    log "all pods ready after $((SECONDS - t0)) s"
fi

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
