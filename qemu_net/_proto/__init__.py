"""Generated gRPC code; regenerate with scripts/gen_protos.py."""
