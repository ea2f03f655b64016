"""Test Kubernetes API server internals (see ../README.md)."""
