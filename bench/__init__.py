"""Kiln's benchmarks (`make bench`): each module registers one in `bench.__main__`.

A benchmark measures the real thing (the `kiln` server as deployed, on this machine) and
returns rows for a table plus a summary; `python -m bench` prints them and writes
`bench/results/latest.json`.
"""
