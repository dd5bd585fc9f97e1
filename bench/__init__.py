"""Load and scale benchmarks; each prints ratios against a baseline measured in the same run."""
