#!/usr/bin/env python3
"""Turns hyperfine JSON files into a Markdown table of medians, minimums and ratios.

usage: bench-table.py REFERENCE_NAME RESULTS.json [MORE.json ...]
The files are rounds of the same hyperfine run: each command's times are
pooled over all rounds, so slow drift of a noisy machine hits every command
alike. Ratios are to the row named REFERENCE_NAME.
"""
import json
import statistics
import sys

reference = sys.argv[1]
times = {}
for path in sys.argv[2:]:
    for r in json.load(open(path))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
median = {name: statistics.median(t) * 1000 for name, t in times.items()}
minimum = {name: min(t) * 1000 for name, t in times.items()}
print(f"| command | median ms | min ms | median ratio | min ratio |")
print("|:---|---:|---:|---:|---:|")
for name in times:
    print(f"| {name} | {median[name]:.2f} | {minimum[name]:.2f} | "
          f"{median[name] / median[reference]:.2f} | {minimum[name] / minimum[reference]:.2f} |")
print()
print(f"Ratios are to \"{reference}\"; {len(sys.argv) - 2} rounds, "
      f"{len(next(iter(times.values())))} runs of each command in all.")
