"""The learning-rate rule of the MNIST study (run by run.sh grid).

    choose.py GRID SCREEN_EPOCHS GRID_EPOCHS KEEP keep METHOD
        prints the KEEP rates of METHOD with the best trusted screen scores (to extend);
    choose.py GRID SCREEN_EPOCHS GRID_EPOCHS KEEP choose
        writes GRID/choice.json: per method, the rate with the best trusted score after
        GRID_EPOCHS, every score with its status, and the higher untrusted scores passed over.

A score is GRID/<method>/lr<rate>/score<epochs>.json, `emf-rbm eval --json` of the model on
the validation rows with forward AIS. Trusted: ESS >= MIN_ESS of the runs and a finite
interval. A run that diverged (failed.txt) or whose score is not trusted is out.
"""
import json
import math
import os
import sys

MIN_ESS = 10  # of 100 AIS runs: below it forward AIS can over-estimate by tens of nats


def score(d, epochs):
    """The status and forward-AIS validation score of one grid run after `epochs` epochs."""
    if os.path.exists(os.path.join(d, "failed.txt")):
        return {"status": "diverged"}
    f = os.path.join(d, f"score{epochs}.json")
    if not os.path.exists(f):
        return None
    v = json.load(open(f))
    ll = v.get("ais_log_likelihood")
    if not isinstance(ll, float):
        return {"status": "no estimate", "value": ll}
    lo, hi = v["ais_log_likelihood_lower"], v["ais_log_likelihood_upper"]
    finite = all(isinstance(x, float) and math.isfinite(x) for x in (lo, hi))
    trusted = v["ais_ess"] >= MIN_ESS and finite
    return {"status": "trusted" if trusted else "untrusted", "ll": ll, "lower": lo,
            "upper": hi, "ess": v["ais_ess"], "runs": v["ais_runs"],
            "betas": v["ais_betas"], "rows": v["ais_rows"]}


def scores(root, m, epochs):
    out = {}
    for d in sorted(os.listdir(os.path.join(root, m)), key=lambda d: float(d[2:])):
        s = score(os.path.join(root, m, d), epochs)
        if s is not None:
            out[d[2:]] = s
    return out


def best_trusted(sc, n):
    ok = sorted((s["ll"], lr) for lr, s in sc.items() if s["status"] == "trusted")
    return [lr for _, lr in reversed(ok)][:n]


def main():
    root, screen, grid, keep, what = sys.argv[1:6]
    keep = int(keep)
    if what == "keep":
        print(" ".join(best_trusted(scores(root, sys.argv[6], screen), keep)))
        return
    rule = (f"screen: every rate {screen} epochs; the {keep} rates with the best trusted "
            f"validation scores continue to {grid} epochs; the chosen rate has the highest "
            f"forward-AIS validation log-likelihood after {grid} epochs among them. Trusted: "
            f"ESS >= {MIN_ESS} of the AIS runs and a finite interval; a rate that diverged or "
            "whose estimate cannot be trusted is out")
    choice = {}
    for m in sorted(os.listdir(root)):
        if not os.path.isdir(os.path.join(root, m)):
            continue
        first, last = scores(root, m, screen), scores(root, m, grid)
        best = best_trusted(last, 1)
        if not best:
            print(f"{m}: no trusted score after {grid} epochs yet", file=sys.stderr)
            continue
        lr = best[0]
        higher = sorted(r for r, s in {**first, **last}.items()
                        if s["status"] == "untrusted" and s["ll"] > last[lr]["ll"])
        choice[m] = {"lr": float(lr), "rule": rule, "screen_epochs": int(screen),
                     "grid_epochs": int(grid), "validation_ais_ll": {screen: first, grid: last},
                     "higher_untrusted": higher}
        flag = f"  (higher but untrusted: {', '.join(higher)})" if higher else ""
        print(f"{m}: lr {lr}{flag}")
    tmp = os.path.join(root, "choice.json.tmp")
    json.dump(choice, open(tmp, "w"), indent=1)
    os.replace(tmp, os.path.join(root, "choice.json"))


main()
