"""Interfaces for applications written for other quantum-network stacks, built over the SDK."""
