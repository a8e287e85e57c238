"""Backends, one module per kind of store; imported lazily by open_backend()."""
