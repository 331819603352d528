"""Measuring models: MACs and parameter counts (timing comes with the benchmark command)."""
