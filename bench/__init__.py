"""Benchmarks: our engine against established clients, on real servers on loopback."""
