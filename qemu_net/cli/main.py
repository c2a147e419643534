"""`qnet`: the command line. Subcommands are imported only when used, so `qnet --help` is fast."""

from __future__ import annotations

import argparse
import importlib
import sys

#: subcommand -> module (each exposes register(subparsers) and run(args) -> int)
COMMANDS = {
    "node": "qemu_net.cli.cmd_node",
    "certs": "qemu_net.cli.cmd_certs",
    "up": "qemu_net.cli.cmd_up",
    "down": "qemu_net.cli.cmd_up",
    "status": "qemu_net.cli.cmd_up",
    "demo": "qemu_net.cli.cmd_demo",
    "run": "qemu_net.cli.cmd_run",
    "deploy": "qemu_net.cli.cmd_deploy",
    "keys": "qemu_net.cli.cmd_keys",
    "dashboard": "qemu_net.cli.cmd_dashboard",
    "topology": "qemu_net.cli.cmd_topology",
    "sweep": "qemu_net.cli.cmd_sweep",
    "experiment": "qemu_net.cli.cmd_experiment",
    "plan": "qemu_net.cli.cmd_plan",
    "app": "qemu_net.cli.cmd_app",
}


def package_version() -> str:
    """The installed distribution's version (package metadata), else the source tree's."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qemu_net")
    except PackageNotFoundError:
        from qemu_net import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qnet",
        description="qemu_net: a quantum-internet emulator. Every node is its own process serving gRPC.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    seen = set()
    for module in COMMANDS.values():
        if module in seen:
            continue
        seen.add(module)
        try:
            importlib.import_module(module).register(sub)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from qemu_net.errors import QnetError
    from qemu_net.observability import tracing

    try:
        if args.command != "node" and tracing.exporter_name() != "none":  # a node sets up its own
            tracing.setup("qnet-cli")
        return int(args.func(args) or 0)
    except QnetError as exc:
        print(f"qnet {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
