"""The learning-rate rule of the MNIST study (run by run.sh grid), rule v3.

    choose.py GRID SCREEN_EPOCHS GRID_EPOCHS KEEP keep METHOD
        prints the KEEP rates of METHOD with the best screen scores (to extend);
    choose.py GRID SCREEN_EPOCHS GRID_EPOCHS KEEP choose
        writes GRID/choice.json: per method, the rate with the best score after GRID_EPOCHS,
        every bracket, and the rates whose forward-AIS side was higher than the chosen one's.

A score is the RAISE estimate in GRID/<method>/lr<rate>/bracket<epochs>.json
(`emf-rbm eval --ais --json` on validation rows: forward AIS and RAISE on the same rows), the
conservative side of the bracket [RAISE, AIS]: the chosen rate is the best in the worst case.
A run that diverged (failed.txt) or whose RAISE estimate is not a finite number is out.
"""
import json
import math
import os
import sys


def finite(x):
    return isinstance(x, float) and math.isfinite(x)


def score(d, epochs):
    """The status and validation bracket of one grid run after `epochs` epochs."""
    if os.path.exists(os.path.join(d, "failed.txt")):
        return {"status": "diverged"}
    f = os.path.join(d, f"bracket{epochs}.json")
    if not os.path.exists(f):
        return None
    v = json.load(open(f))
    raise_ll, ais_ll = v.get("raise_log_likelihood"), v.get("ais_log_likelihood")
    out = {"raise": raise_ll, "raise_lower": v.get("raise_log_likelihood_lower"),
           "raise_upper": v.get("raise_log_likelihood_upper"), "raise_ess": v.get("raise_ess"),
           "ais": ais_ll, "ais_lower": v.get("ais_log_likelihood_lower"),
           "ais_upper": v.get("ais_log_likelihood_upper"), "ais_ess": v.get("ais_ess"),
           "ais_runs": v.get("ais_runs"), "betas": v.get("ais_betas"),
           "rows": v.get("raise_rows")}
    out["status"] = "ok" if finite(raise_ll) else "no estimate"
    if finite(raise_ll) and finite(ais_ll):
        out["width"] = ais_ll - raise_ll
    return out


def scores(root, m, epochs):
    out = {}
    for d in sorted(os.listdir(os.path.join(root, m)), key=lambda d: float(d[2:])):
        if not d.startswith("lr"):
            continue
        s = score(os.path.join(root, m, d), epochs)
        if s is not None:
            out[d[2:]] = s
    return out


def best(sc, n):
    ok = sorted((s["raise"], lr) for lr, s in sc.items() if s["status"] == "ok")
    return [lr for _, lr in reversed(ok)][:n]


def main():
    root, screen, grid, keep, what = sys.argv[1:6]
    keep = int(keep)
    if what == "keep":
        print(" ".join(best(scores(root, sys.argv[6], screen), keep)))
        return
    rule = (f"screen: every rate {screen} epochs; the {keep} rates with the best screen scores "
            f"continue to {grid} epochs; the chosen rate has the best score after {grid} "
            "epochs. Score: the RAISE estimate of the validation log-likelihood (the "
            "conservative side of the [RAISE, forward AIS] bracket on the same rows, standard "
            "14 500 temperatures); a diverged run or a non-finite estimate is out")
    choice = {}
    for m in sorted(os.listdir(root)):
        if not os.path.isdir(os.path.join(root, m)):
            continue
        first, last = scores(root, m, screen), scores(root, m, grid)
        top = best(last, 1)
        if not top:
            print(f"{m}: no score after {grid} epochs yet", file=sys.stderr)
            continue
        lr = top[0]
        higher_ais = sorted(r for r, s in last.items() if r != lr and finite(s.get("ais"))
                            and finite(last[lr].get("ais")) and s["ais"] > last[lr]["ais"])
        choice[m] = {"lr": float(lr), "rule": rule, "rule_version": 3,
                     "screen_epochs": int(screen), "grid_epochs": int(grid),
                     "validation_bracket": {screen: first, grid: last},
                     "higher_ais": higher_ais}
        flag = f"  (higher forward AIS: {', '.join(higher_ais)})" if higher_ais else ""
        print(f"{m}: lr {lr}{flag}")
    tmp = os.path.join(root, "choice.json.tmp")
    json.dump(choice, open(tmp, "w"), indent=1)
    os.replace(tmp, os.path.join(root, "choice.json"))


main()
