#!/usr/bin/env python3
"""Compares the model parameters (W, a, b) of two `emf-rbm demo` output folders.

    cargo run --release -- demo --quiet --out /tmp/demo-A   # at one commit
    cargo run --release -- demo --quiet --out /tmp/demo-B   # at another
    python3 scripts/same_models.py /tmp/demo-A /tmp/demo-B

Prints, for each method's model_<method>.json, whether its parameters are bit-identical
(the JSON numbers round-trip f64 exactly), and exits 1 if any differs. Histories (timings)
are not compared.
"""
import json
import pathlib
import sys


def params(path):
    model = json.loads(path.read_text())
    rbm = model.get("rbm", model)
    return {k: rbm[k] for k in ("n_visible", "n_hidden", "w", "a", "b")}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = map(pathlib.Path, sys.argv[1:])
    files = sorted(p.name for p in a.glob("model_*.json"))
    if not files:
        sys.exit(f"no model_*.json in {a}")
    same = True
    for name in files:
        ok = params(a / name) == params(b / name)
        same &= ok
        print(f"{name}: {'bit-identical parameters' if ok else 'DIFFERENT'}")
    sys.exit(0 if same else 1)


main()
