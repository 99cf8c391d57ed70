"""Generates tests/data/interpreter_python_cases.tsv: expressions and what
CPython 3 makes of them, for tests/evaluation_python_semantics.rs.

Run from the repository root:  python3 tests/data/generate_interpreter_python_cases.py

Each line is `expression<TAB>expected`, where expected is `repr(value)` for
an int or float result, or `error:division_by_zero` / `error:other` when
Python raises. Operands stay small so no intermediate int leaves 64 bits
(echolab's ints are 64-bit; Python's are unbounded); expressions whose
result is complex, non-finite or outside 64 bits are skipped. The seed is
fixed, so the file is reproducible.
"""
import math
import random

rng = random.Random(20250407)
INTEGERS = [0, 1, 2, 3, 5, 7, 10, 12, 16, 25, 48, 100]
FLOATS = ["0.5", "2.5", "0.1", "0.2", "1.5", "3.75", "7.25", "0.125", "2.675", "1e3", "12.0"]


def atom():
    if rng.random() < 0.6:
        text = str(rng.choice(INTEGERS))
    else:
        text = rng.choice(FLOATS)
    if rng.random() < 0.2:
        text = "-" + text
    return text


def expression(depth):
    if depth == 0 or rng.random() < 0.25:
        return atom()
    kind = rng.random()
    if kind < 0.6:
        operator = rng.choice(["+", "-", "*", "/", "//", "%", "+", "*", "**"])
        left = expression(depth - 1)
        if operator == "**":
            right = str(rng.choice([0, 1, 2, 3, -1, -2])) if rng.random() < 0.8 else rng.choice(["0.5", "1.5", "-0.5"])
        else:
            right = expression(depth - 1)
        return f"({left} {operator} {right})"
    if kind < 0.7:
        return f"-({expression(depth - 1)})"
    function = rng.choice(["round1", "round2", "int", "float", "abs", "min", "max", "sum"])
    inner = expression(depth - 1)
    if function == "round1":
        return f"round({inner})"
    if function == "round2":
        return f"round({inner}, {rng.choice([-2, -1, 0, 1, 2, 3])})"
    if function in ("min", "max"):
        return f"{function}({inner}, {expression(depth - 1)})"
    if function == "sum":
        return f"sum([{inner}, {expression(depth - 1)}, {atom()}])"
    return f"{function}({inner})"


def label(text):
    try:
        value = eval(text, {"__builtins__": {"round": round, "int": int, "float": float, "abs": abs, "min": min, "max": max, "sum": sum}})
    except ZeroDivisionError:
        return "error:division_by_zero"
    except (OverflowError, ValueError, TypeError):
        return "error:other"
    if isinstance(value, complex):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int) and abs(value) >= 2**62:
        return None
    return repr(value)


seen = set()
lines = []
while len(lines) < 1500:
    text = expression(rng.choice([1, 2, 3, 3, 4]))
    if text in seen:
        continue
    seen.add(text)
    expected = label(text)
    if expected is not None:
        lines.append(f"{text}\t{expected}")

with open("tests/data/interpreter_python_cases.tsv", "w") as out:
    out.write("\n".join(lines) + "\n")
