"""Realistic, seeded traffic with ground truth, for demos, tests and benchmarks."""
