#!/usr/bin/env python3
"""The 25-digit references of tests/hamiltonian.rs `closed_forms_match_80_digit_references`.

D_S(b) = sum over T subset of S of (-1)^(|S|-|T|) softplus(b + sum_{i in T} x_i), the
alternating sum that the library's `hamiltonian::scalar::d_subset` evaluates stably, here
in 80-digit arithmetic (mpmath). Every input is taken as the exact binary value of its f64
literal (`mpf(float(...))`), as Rust reads it. The alternating sum cancels: for the smallest
case (four steps of 1e-8, D ~ 4e-34 next to softplus(2) ~ 2.1) about 34 of the 80 digits are
lost, which leaves more than 40 correct digits for the 25 printed.

    python3 tests/reference/d_subset_references.py          # prints the cases as Rust tuples
    python3 tests/reference/d_subset_references.py --check  # and compares them with the test

Needs mpmath (`pip install mpmath`).
"""

import re
import sys
from pathlib import Path

from mpmath import mp, mpf, log1p, exp, nstr

mp.dps = 80

# (b, x) exactly as written in the test.
CASES = [
    ("0.3", ["1e-07", "-2e-07"]),
    ("-1.2", ["3e-06", "5e-06", "-4e-06"]),
    ("2.0", ["1e-08", "1e-08", "1e-08", "1e-08"]),
    ("-0.4", ["0.0001", "-0.0003", "0.0002", "5e-05"]),
    ("0.0", ["1e-05", "0.002", "0.7", "1.5", "-2.0"]),
    ("-3.0", ["0.01", "0.02", "-0.015", "0.03", "0.01", "-0.02"]),
    ("1.0", ["0.2", "0.2", "0.2", "0.2", "0.2", "0.2"]),
    ("0.5", ["0.004", "-0.006", "0.008", "0.3", "-0.5"]),
    ("-0.5", ["1e-09", "2e-09"]),
    ("25.0", ["1e-06", "2e-06", "3e-06"]),
    ("-30.0", ["0.001", "-0.001", "0.002"]),
    ("-1.3169578969248168", ["1e-06", "1e-06", "1e-06"]),
    ("0.7", ["30.0", "-30.0"]),
    ("0.0", ["40.0", "-40.0", "0.001"]),
]


def softplus(z):
    # ln(1 + e^z), computed without overflow for large z.
    return z + log1p(exp(-z)) if z > 0 else log1p(exp(z))


def d_subset(b, x):
    k = len(x)
    total = mpf(0)
    for mask in range(1 << k):
        arg = b + sum((x[i] for i in range(k) if mask >> i & 1), mpf(0))
        sign = 1 if (k - bin(mask).count("1")) % 2 == 0 else -1
        total += sign * softplus(arg)
    return total


def references():
    out = []
    for b, xs in CASES:
        value = d_subset(mpf(float(b)), [mpf(float(v)) for v in xs])
        out.append((b, xs, value))
    return out


def test_values(path):
    """The reference values of the test, in order (the third member of each case)."""
    text = Path(path).read_text()
    body = text.split("fn closed_forms_match_80_digit_references", 1)[1]
    body = body.split("];", 1)[0]
    number = r"-?[0-9.]+(?:e-?[0-9]+)?"
    pattern = re.compile(r"\(\s*(" + number + r"),\s*&\[([^\]]*)\],\s*(" + number + r"),?\s*\)")
    return [(m.group(1), m.group(2), m.group(3)) for m in pattern.finditer(body)]


def main():
    refs = references()
    for b, xs, value in refs:
        print(f"({b}, &[{', '.join(xs)}], {nstr(value, 25, min_fixed=0, max_fixed=0)}),")
    if "--check" in sys.argv:
        test = Path(__file__).resolve().parent.parent / "hamiltonian.rs"
        found = test_values(test)
        if len(found) != len(refs):
            sys.exit(f"{test}: found {len(found)} cases, expected {len(refs)}")
        worst = mpf(0)
        for (b, xs, value), (tb, _, tv) in zip(refs, found):
            if float(tb) != float(b):
                sys.exit(f"case order differs: b = {b} here, {tb} in the test")
            rel = abs(mpf(tv) - value) / abs(value)
            worst = max(worst, rel)
            if rel > mpf("1e-23"):
                sys.exit(f"b = {b}: the test has {tv}, the reference is {nstr(value, 30)}")
        print(f"all {len(refs)} values of {test.name} agree (worst relative difference "
              f"{nstr(worst, 3)})")


if __name__ == "__main__":
    main()
