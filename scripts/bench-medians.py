"""Prints the median of each command of hyperfine's JSON exports."""
import json
import statistics
import sys

for path in sys.argv[1:]:
    for r in json.load(open(path))["results"]:
        print(f"{r['command']}: median {statistics.median(r['times']) * 1000:.2f} ms")
