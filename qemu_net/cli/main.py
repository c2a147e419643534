"""`qnet`: the command line.

The parser is built from a table of subcommands: `qnet --help` lists them without importing any, and
`qnet CMD ...` imports only the module of CMD (its ``register(subparsers)`` adds the options, its
functions import the SDK, the node or Cirq only when they run).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

#: subcommand -> (module exposing register(subparsers), one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "node": ("qemu_net.cli.cmd_node", "run one node process"),
    "certs": ("qemu_net.cli.cmd_certs", "write the network CA and node / client certificates"),
    "up": ("qemu_net.cli.cmd_up", "start every node of a topology as a local process"),
    "status": ("qemu_net.cli.cmd_up", "show the nodes of a running local network"),
    "down": ("qemu_net.cli.cmd_up", "stop a local network started with `qnet up`"),
    "demo": ("qemu_net.cli.cmd_demo", "run the demo on a local multi-process network"),
    "run": ("qemu_net.cli.cmd_run", "run a protocol and report the result"),
    "deploy": ("qemu_net.cli.cmd_deploy", "render Docker Compose or Kubernetes files from a topology"),
    "keys": ("qemu_net.cli.cmd_keys", "fetch QKD keys from a running network (key delivery API)"),
    "dashboard": ("qemu_net.cli.cmd_dashboard", "serve a live web dashboard of a running network"),
    "topology": ("qemu_net.cli.cmd_topology", "generate a chain/ring/star/grid topology, or show one"),
    "sweep": ("qemu_net.cli.cmd_sweep", "measure a curve (key rate, chain fidelity, memory decay), optionally plot it"),
    "experiment": ("qemu_net.cli.cmd_experiment", "reproduce a published experiment and compare"),
    "plan": ("qemu_net.cli.cmd_plan", "what the network can deliver between every pair of nodes"),
    "app": ("qemu_net.cli.cmd_app", "run NetQASM applications (app_<role>.py per role) on the network"),
}


def package_version() -> str:
    """The installed distribution's version (package metadata), else the source tree's."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qemu_net")
    except PackageNotFoundError:
        from qemu_net import __version__

        return __version__


class _Version(argparse.Action):
    """``--version``: looks the version up only when asked (package metadata is slow to import)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kw: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        print(f"{parser.prog} {package_version()}")
        parser.exit()


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `qnet` parser; with `command`, that subcommand's module registers its full options (the others
    are listed by name and help only)."""
    parser = argparse.ArgumentParser(
        prog="qnet",
        description="qemu_net: a quantum-internet emulator. Every node is its own process serving gRPC.",
    )
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    if command in COMMANDS:
        importlib.import_module(COMMANDS[command][0]).register(sub)
    for name, (_, text) in COMMANDS.items():
        if name not in sub.choices:
            sub.add_parser(name, help=text)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand named on a command line (the first argument that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(_command(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from qemu_net.errors import QnetError

    try:
        # a node sets up its own tracing; without OTEL_TRACES_EXPORTER it is off (and gRPC need not be imported)
        if args.command != "node" and os.environ.get("OTEL_TRACES_EXPORTER"):
            from qemu_net.observability import tracing

            if tracing.exporter_name() != "none":
                tracing.setup("qnet-cli")
        return int(args.func(args) or 0)
    except QnetError as exc:
        print(f"qnet {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
