"""Benchmarks (``make bench``): not tests; each measure is compared with its limit in the same run."""
