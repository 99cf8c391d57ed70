#!/usr/bin/env bash
# Side by side, in one run: `echolab bench GROUP` of a previous binary and
# of this one, alternated ROUNDS times (so that both see the same machine
# state), with the best figure of each and their ratio.
#
#   scripts/bench_against.sh PREVIOUS_BINARY [THIS_BINARY] [GROUP] [ROUNDS]
#
# Rates (tokens/s, GFLOP/s) are compared as this / previous, times (ms) as
# previous / this: above 1 means this binary is faster.
set -euo pipefail
previous=${1:?usage: scripts/bench_against.sh PREVIOUS_BINARY [THIS_BINARY] [GROUP] [ROUNDS]}
this=${2:-target/release/echolab}
group=${3:-training}
rounds=${4:-2}
folder=$(mktemp -d)
trap 'rm -rf "$folder"' EXIT
for round in $(seq "$rounds"); do
    "$previous" bench "$group" >"$folder/previous.$round" 2>&1
    "$this" bench "$group" >"$folder/this.$round" 2>&1
done
python3 - "$folder" "$rounds" <<'PYTHON'
import re, sys
folder, rounds = sys.argv[1], int(sys.argv[2])
line = re.compile(r"^(\S+)\s+(.+?)\s{2,}([0-9.]+) (\S+)")
def figures(which):
    best = {}
    for round in range(1, rounds + 1):
        for text in open(f"{folder}/{which}.{round}"):
            match = line.match(text)
            if not match:
                continue
            name, value, unit = match.group(2), float(match.group(3)), match.group(4)
            faster_is_lower = unit in ("ms", "s")
            old = best.get(name)
            if old is None or (value < old[0] if faster_is_lower else value > old[0]):
                best[name] = (value, unit)
    return best
previous, this = figures("previous"), figures("this")
print(f"{'measurement':<58} {'previous':>12} {'this':>12} {'this/prev':>9}")
for name, (value, unit) in this.items():
    if name not in previous:
        continue
    old = previous[name][0]
    ratio = (old / value if unit in ("ms", "s") else value / old) if old and value else float("nan")
    print(f"{name:<58} {old:>10.4g} {unit:<1} {value:>10.4g} {unit:<1} {ratio:>8.3f}x")
PYTHON
