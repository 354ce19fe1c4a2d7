"""Helpers of `bench/storage_engines.py`: engines, fidelity checks, speed, durability."""
