"""qemu_net: a quantum-internet emulator in which every network node is its own process serving gRPC."""

__version__ = "0.1.0"
