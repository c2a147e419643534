"""Conversion between protobuf messages and the package's domain objects: the one place that knows the wire."""
