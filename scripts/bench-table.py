#!/usr/bin/env python3
"""Turns hyperfine JSON files into a Markdown table of medians, minimums and ratios.

usage: bench-table.py [--pair NAME=BASE ...] REFERENCE_NAME RESULTS.json [MORE.json ...]
The files are rounds of the same hyperfine run: each command's times are
pooled over all rounds, so slow drift of a noisy machine hits every command
alike. Ratios are to the row named REFERENCE_NAME. Each --pair adds a line
after the table with the ratio of row NAME to row BASE (a comparison other
than to the reference, such as like for like).
"""
import json
import statistics
import sys

args = sys.argv[1:]
pairs = []
while args and args[0] == "--pair":
    name, _, base = args[1].partition("=")
    pairs.append((name, base))
    args = args[2:]
reference, paths = args[0], args[1:]
times = {}
for path in paths:
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
print(f"Ratios are to \"{reference}\"; {len(paths)} rounds, "
      f"{len(next(iter(times.values())))} runs of each command in all.")
if pairs:
    print()
    print("| command | against | median ratio |")
    print("|:---|:---|---:|")
    for name, base in pairs:
        print(f"| {name} | {base} | {median[name] / median[base]:.2f} |")
