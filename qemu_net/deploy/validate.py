"""Render the deployment files from a topology and validate them offline; exit non-zero on any problem.

::

    python -m qemu_net.deploy.validate --topology deploy/topology.yaml [--check-committed]

What is checked:

* every Kubernetes manifest against the OpenAPI schemas of Kubernetes ``--k8s-version`` (default 1.34)
  with ``kubernetes-validate`` in strict mode (unknown fields are errors, required fields must exist);
* the rendered kustomization builds with ``kubectl kustomize`` (when kubectl is installed) and its
  output validates the same way;
* the compose file's structure: an image, command and gRPC health check per node, durations, that
  ``depends_on`` names existing services, the mounted topology exists, parses and gives every node the
  address of its own service (there is no offline compose-spec validator on this machine);
* cross-checks: the StatefulSet has one replica per node and the ConfigMap's topology gives node i the
  DNS name of ordinal i;
* with ``--check-committed``: ``deploy/k8s`` and ``deploy/compose`` equal a fresh rendering of
  ``deploy/topology.yaml`` (like the generated-protos check).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

DEFAULT_K8S_VERSION = "1.34.0"
_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$")


def validate_manifest(doc: dict[str, Any], *, version: str = DEFAULT_K8S_VERSION) -> str | None:
    """Strictly validate one manifest; return None if valid, else 'kind/name: path: message'."""
    import kubernetes_validate  # type: ignore[import-untyped]  # the package ships no type information

    where = f"{doc.get('kind', '?')}/{(doc.get('metadata') or {}).get('name', '?')}"
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path) or "(top level)"
        return f"{where}: {path}: {exc.message}"
    except kubernetes_validate.SchemaNotFoundError as exc:
        return f"{where}: {exc.message}"
    except (KeyError, TypeError) as exc:
        return f"{where}: not a Kubernetes object ({exc!r})"
    return None


def validate_manifests(docs: list[dict[str, Any]], *, version: str = DEFAULT_K8S_VERSION) -> list[str]:
    return [e for e in (validate_manifest(d, version=version) for d in docs) if e]


def load_manifests(path: Path) -> list[dict[str, Any]]:
    """Every non-empty YAML document in a file, or in every *.yaml file of a directory but the kustomization."""
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    docs: list[dict[str, Any]] = []
    for f in files:
        if f.name == "kustomization.yaml":
            continue
        docs.extend(d for d in yaml.safe_load_all(f.read_text()) if d)
    return docs


def kustomize_build(directory: Path) -> tuple[list[dict[str, Any]] | None, str]:
    """`kubectl kustomize DIR` -> (manifests, "") or (None, reason). (None, "") if kubectl is absent."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None, ""
    proc = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60,
                          check=False)
    if proc.returncode != 0:
        return None, f"kubectl kustomize {directory} failed: {proc.stderr.strip()}"
    return [d for d in yaml.safe_load_all(proc.stdout) if d], ""


def check_compose(compose_path: Path) -> list[str]:
    """Structural checks of a rendered compose file (see the module docstring)."""
    from qemu_net.network.topology import load_topology

    errors: list[str] = []
    try:
        doc = yaml.safe_load(compose_path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        return [f"{compose_path}: {exc}"]
    services = doc.get("services") if isinstance(doc, dict) else None
    if not isinstance(services, dict) or not services:
        return [f"{compose_path}: no services"]
    allowed = {
        "image", "command", "entrypoint", "hostname", "environment", "volumes", "expose", "ports",
        "healthcheck", "stop_signal", "stop_grace_period", "read_only", "tmpfs", "restart", "labels",
        "profiles", "depends_on", "secrets",
    }  # fmt: skip
    topo_sources: set[str] = set()
    for name, svc in services.items():
        where = f"services.{name}"
        if not isinstance(svc, dict):
            errors.append(f"{where}: not a mapping")
            continue
        errors += [f"{where}.{key}: unknown or unexpected key" for key in svc.keys() - allowed]
        if not isinstance(svc.get("image"), str) or not svc["image"]:
            errors.append(f"{where}.image: missing")
        errors += [f"{where}.{key}: must be a list of strings"
                   for key in ("command", "entrypoint", "tmpfs", "expose", "profiles")
                   if key in svc and not (isinstance(svc[key], list) and all(isinstance(x, str) for x in svc[key]))]
        if "stop_grace_period" in svc and not _DURATION.match(str(svc["stop_grace_period"])):
            errors.append(f"{where}.stop_grace_period: not a duration: {svc['stop_grace_period']!r}")
        hc = svc.get("healthcheck")
        if "profiles" not in svc:  # a node
            if not isinstance(hc, dict):
                errors.append(f"{where}.healthcheck: missing")
            else:
                test = hc.get("test")
                if not (isinstance(test, list) and test and test[0] in ("CMD", "CMD-SHELL")):
                    errors.append(f"{where}.healthcheck.test: must be a list starting with CMD or CMD-SHELL")
                errors += [f"{where}.healthcheck.{key}: not a duration: {hc[key]!r}"
                           for key in ("interval", "timeout", "start_period")
                           if key in hc and not _DURATION.match(str(hc[key]))]
                if not isinstance(hc.get("retries", 1), int):
                    errors.append(f"{where}.healthcheck.retries: must be an integer")
        for dep, cond in (svc.get("depends_on") or {}).items():
            if dep not in services:
                errors.append(f"{where}.depends_on.{dep}: no such service")
            if cond.get("condition") not in ("service_started", "service_healthy", "service_completed_successfully"):
                errors.append(f"{where}.depends_on.{dep}.condition: invalid {cond.get('condition')!r}")
        for i, vol in enumerate(svc.get("volumes") or []):
            if not isinstance(vol, dict) or vol.get("type") != "bind" or not {"source", "target"} <= vol.keys():
                errors.append(f"{where}.volumes[{i}]: expected a bind mount with source and target")
                continue
            src = (compose_path.parent / vol["source"]).resolve()
            if not src.exists():
                errors.append(f"{where}.volumes[{i}].source: {vol['source']} does not exist")
            elif vol["target"].endswith("topology.yaml"):
                topo_sources.add(str(src))
    if len(topo_sources) != 1:
        errors.append(f"{compose_path}: expected one mounted topology, found {sorted(topo_sources)}")
        return errors
    topo = load_topology(next(iter(topo_sources)))
    for node in topo.nodes:
        host = node.address.rsplit(":", 1)[0]
        if node.name not in services:
            errors.append(f"{compose_path}: node {node.name!r} has no service")
        elif host != node.name:
            errors.append(f"topology: node {node.name!r} address {node.address!r} is not its service's name")
    return errors


def check_cross(docs: list[dict[str, Any]], n_nodes: int) -> list[str]:
    """The StatefulSet, headless Service and ConfigMap agree with each other and the topology."""
    from qemu_net.network.topology import parse_topology

    errors = []
    by_kind = {d["kind"]: d for d in docs}
    sts, svc, cm = by_kind.get("StatefulSet"), by_kind.get("Service"), by_kind.get("ConfigMap")
    if not (sts and svc and cm):
        return ["manifests: a StatefulSet, a Service and a ConfigMap are required"]
    if sts["spec"]["replicas"] != n_nodes:
        errors.append(f"StatefulSet: replicas {sts['spec']['replicas']} != {n_nodes} nodes")
    if svc["spec"].get("clusterIP") != "None" or sts["spec"]["serviceName"] != svc["metadata"]["name"]:
        errors.append("Service: must be headless and be the StatefulSet's serviceName")
    topo = parse_topology(yaml.safe_load(cm["data"]["topology.yaml"]), source="ConfigMap topology.yaml")
    for i, node in enumerate(topo.nodes):
        # Namespace-relative, so the manifests work in any namespace (`qemu_net.deploy.k8s.node_host`).
        want = f"{sts['metadata']['name']}-{i}.{svc['metadata']['name']}"
        if node.address.rsplit(":", 1)[0] != want:
            errors.append(f"ConfigMap: node {i} ({node.name}) address {node.address!r}, expected host {want!r}")
    return errors


def render_all(topology_path: str | None, out: Path, *, image: str | None = None) -> tuple[Path, Path, int]:
    """Render compose (out/compose/compose.yaml) and k8s (out/k8s/); return both and the node count."""
    from qemu_net.deploy.compose import ComposeOptions, write_compose
    from qemu_net.deploy.k8s import K8sOptions, render_k8s, write_k8s
    from qemu_net.network.topology import default_topology, load_topology

    topo = load_topology(topology_path) if topology_path else default_topology()
    copts = ComposeOptions(image=image) if image else ComposeOptions()
    kopts = K8sOptions(image=image) if image else K8sOptions()
    write_compose(topo, out / "compose" / "compose.yaml", copts)
    write_k8s(render_k8s(topo, kopts), out / "k8s")
    return out / "compose" / "compose.yaml", out / "k8s", len(topo.nodes)


def committed_image(deploy_dir: Path) -> str | None:
    """The image the committed sample names, when it is this version's ``localhost/qnet:VERSION-HASH12``.

    The hash part follows every source change, so the committed files are compared as rendered with
    the tag they carry (a fresh ``qnet deploy k8s`` always renders the current tree's tag)."""
    from qemu_net.deploy.image import LOCAL_REPOSITORY, is_immutable, package_version

    sts = deploy_dir / "k8s" / "statefulset.yaml"
    if not sts.is_file():
        return None
    doc = yaml.safe_load(sts.read_text())
    image = doc["spec"]["template"]["spec"]["containers"][0]["image"]
    prefix = f"{LOCAL_REPOSITORY}:{package_version()}-"
    return image if image.startswith(prefix) and is_immutable(image) else None


def _diff_dirs(a: Path, b: Path) -> list[str]:
    out = []
    names = {p.name for p in a.glob("*.yaml")} | {p.name for p in b.glob("*.yaml")}
    for name in sorted(names):
        pa, pb = a / name, b / name
        if not pa.exists() or not pb.exists() or pa.read_text() != pb.read_text():
            out.append(f"{b / name} differs from a fresh rendering")
    return out


def validate_all(
    topology_path: str | None,
    *,
    version: str = DEFAULT_K8S_VERSION,
    out: Path | None = None,
    check_committed: Path | None = None,
    log: Callable[[str], object] = print,
) -> list[str]:
    """Everything `main` checks; return the problems (empty: all valid)."""
    with tempfile.TemporaryDirectory(prefix="qnet-validate-") as tmp:
        root = out or Path(tmp)
        image = committed_image(check_committed) if check_committed is not None else None
        compose_path, k8s_dir, n = render_all(topology_path, root, image=image)
        errors = check_compose(compose_path)
        log(f"compose: {compose_path} ({'ok' if not errors else f'{len(errors)} problems'})")
        docs = load_manifests(k8s_dir)
        k8s_errors = validate_manifests(docs, version=version) + check_cross(docs, n)
        log(f"k8s: {len(docs)} manifests in {k8s_dir} strictly valid for Kubernetes {version}: {not k8s_errors}")
        errors += k8s_errors
        built, why = kustomize_build(k8s_dir)
        if why:
            errors.append(why)
        elif built is not None:
            kerr = validate_manifests(built, version=version)
            log(f"kustomize: {len(built)} manifests built and valid: {not kerr}")
            errors += [f"kustomize output: {e}" for e in kerr]
        else:
            log("kustomize: kubectl not installed, skipped")
        if check_committed is not None:
            drift = _diff_dirs(k8s_dir, check_committed / "k8s") + _diff_dirs(
                compose_path.parent, check_committed / "compose"
            )
            log(f"committed files in {check_committed}: {'up to date' if not drift else 'STALE'}")
            errors += drift
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qemu_net.deploy.validate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--topology", help="topology file (default: the embedded demo topology)")
    parser.add_argument("--k8s-version", default=DEFAULT_K8S_VERSION, help=f"default {DEFAULT_K8S_VERSION}")
    parser.add_argument("-o", "--output", type=Path, help="keep the rendered files here (default: a temp dir)")
    parser.add_argument(
        "--check-committed",
        nargs="?",
        const=Path(__file__).resolve().parents[2] / "deploy",
        type=Path,
        metavar="DEPLOY_DIR",
        help="also fail if DEPLOY_DIR/k8s and DEPLOY_DIR/compose differ from this rendering (default: ./deploy)",
    )
    args = parser.parse_args(argv)
    errors = validate_all(
        args.topology, version=args.k8s_version, out=args.output, check_committed=args.check_committed
    )
    for e in errors:
        print(f"INVALID: {e}", file=sys.stderr)
    print("deploy validation:", "FAILED" if errors else "ok", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
