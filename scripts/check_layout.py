#!/usr/bin/env python3
"""Checks the layout limits of docs/DESIGN.md: no Rust source file under src/ longer than
700 lines and no function longer than 80 lines (signature to closing brace).

    python3 scripts/check_layout.py [--files N] [--functions N] [ROOT ...]

Prints every offender and exits 1 if there is one.
"""
import argparse
import os
import re
import sys

FN = re.compile(r'^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(unsafe\s+)?fn\s+(\w+)')


def strip(line):
    line = re.sub(r'//.*', '', line)
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    return re.sub(r"'(\\.|[^'\\])'", "''", line)


def functions(lines):
    """Yields (name, first line, length) of every fn with a body."""
    for i, line in enumerate(lines):
        m = FN.match(line)
        if not m:
            continue
        depth, started = 0, False
        for j in range(i, len(lines)):
            s = strip(lines[j])
            if not started and s.rstrip().endswith(';'):
                break
            for ch in s:
                if ch == '{':
                    depth, started = depth + 1, True
                elif ch == '}':
                    depth -= 1
            if started and depth == 0:
                yield m.group(5), i + 1, j - i + 1
                break


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--files', type=int, default=700)
    ap.add_argument('--functions', type=int, default=80)
    ap.add_argument('roots', nargs='*', default=['src'])
    a = ap.parse_args()
    bad = []
    for root in a.roots:
        for dp, _, fs in os.walk(root):
            for f in sorted(fs):
                if not f.endswith('.rs'):
                    continue
                p = os.path.join(dp, f)
                lines = open(p, encoding='utf-8').read().split('\n')
                if len(lines) > a.files:
                    bad.append(f'{p}: {len(lines)} lines (limit {a.files})')
                for name, at, n in functions(lines):
                    if n > a.functions:
                        bad.append(f'{p}:{at}: fn {name} is {n} lines (limit {a.functions})')
    for b in bad:
        print(b)
    if bad:
        sys.exit(1)
    print(f'layout ok: no file over {a.files} lines, no function over {a.functions}')


if __name__ == '__main__':
    main()
