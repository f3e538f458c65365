#!/usr/bin/env bash
# The MNIST study: does TAP/EMF training give better RBMs than sampling, per epoch and per
# second? Binarised MNIST (threshold 0.5), 500 hidden units, batch 100, momentum 0.5, f32.
#
#   results/mnist-study/run.sh grid [METHODS...]   learning rate per method (validation split)
#   results/mnist-study/run.sh main [METHODS...]   the scored runs (SEEDS, default "1 2")
#   results/mnist-study/run.sh summary             summary.json, table.md, plots
#
# grid: each method trains GRID_EPOCHS (3) epochs on 50 000 training images with each rate of
#   LRS ("0.003 0.01 0.03"), seed 1; the other 10 000 training images are the validation set.
#   The rule, the same for every method: the rate with the highest forward-AIS validation
#   log-likelihood (100 runs, 3 000 temperatures, 1 000 validation rows) after the last epoch
#   among the rates whose estimate can be trusted (ESS >= 10 of 100, finite interval); a rate
#   that diverged or whose estimate cannot be trusted is out. grid/choice.json records the rate,
#   every score with its status, and the higher untrusted scores the rule passed over.
# main: each method at its chosen rate, EPOCHS (50) epochs on the 60 000 training images, for
#   each seed of SEEDS. At epochs 1, 2, 5, 10, 20, 30, 50: forward AIS and RAISE on the same
#   fixed 1 000 test images (3 000 temperatures, AIS 100 runs, RAISE one reverse chain per
#   image), the TAP2 ln Z estimate (200 starts, converging solver) and the paper's EMF
#   likelihood. The monitor's free energies every epoch.
#
# Resumable: every run has its folder runs/<method>/seed<k>; a finished run (model.json) is
# skipped, an interrupted one continues from its checkpoint (bit-identical to an uninterrupted
# run). history.json (what the summary reads, committed) is refreshed after every run and from
# the checkpoint of an interrupted one; the models and checkpoints stay out of git.
# MNIST from $EMF_RBM_DATA/mnist (default ../shared/data/mnist).
set -euo pipefail
cd "$(dirname "$0")/../.."
MNIST="${EMF_RBM_DATA:-../shared/data}/mnist"
OUT=results/mnist-study
BIN=target/release/emf-rbm
ALL=(cd1 pcd1 pcd10 mf pmf tap2 ptap2 tap3 ptap3 tap2-30)
LRS=${LRS:-"0.003 0.01 0.03"}
GRID_EPOCHS=${GRID_EPOCHS:-3}
EPOCHS=${EPOCHS:-50}
SEEDS=${SEEDS:-"1 2"}
BETAS=3000

phase=${1:-}
shift || true
METHODS=("$@")
[ ${#METHODS[@]} -eq 0 ] && METHODS=("${ALL[@]}")

# The negative phase of a study method: tap2-30 is TAP2 with its particles iterated to the
# fixed point at every update (exact per-unit solves, at most 30 sweeps, f32 tolerance).
method_flags() {
    case $1 in
        tap2-30) echo "--method tap2 --rule exact --damping 0 --sweeps 30 --tolerance 2e-6" ;;
        *) echo "--method $1" ;;
    esac
}

# history.json from a model file or checkpoint.
extract_history() {
    python3 -c 'import json,sys; json.dump(json.load(open(sys.argv[1]))["history"], open(sys.argv[2] + ".tmp", "w"), indent=1)' "$1" "$2"
    mv "$2.tmp" "$2"
}

common=(--hidden 500 --batch 100 --momentum 0.5 --f32 --quiet --log --checkpoint-every 1)

grid() {
    local m=$1 lr=$2 dir="$OUT/grid/$1/lr$2"
    mkdir -p "$dir"
    [ -f "$dir/model.json" ] && return 0
    local resume=()
    [ -f "$dir/model.checkpoint.json" ] && resume=(--resume "$dir/model.checkpoint.json")
    # shellcheck disable=SC2046
    if ! "$BIN" train --data "$MNIST/train-images-idx3-ubyte.gz" --held-out 0.16666667 \
        $(method_flags "$m") --lr "$lr" --epochs "$GRID_EPOCHS" --seed 1 "${common[@]}" \
        --monitor-every 0 --ais-epochs "$GRID_EPOCHS" --ais-betas "$BETAS" --no-raise \
        "${resume[@]}" --out "$dir/model.json" 2> "$dir/log.txt"; then
        echo "failed (see $dir/log.txt): $(tail -1 "$dir/log.txt")" | tee "$dir/failed.txt"
        return 0
    fi
    extract_history "$dir/model.json" "$dir/history.json"
}

choose() {
    python3 - "$OUT/grid" <<'PY'
import json, math, os, sys
root = sys.argv[1]
MIN_ESS = 10  # of 100 AIS runs: below it forward AIS can over-estimate by tens of nats
RULE = ("the rate with the highest forward-AIS validation log-likelihood after the grid "
        f"epochs among the rates whose estimate can be trusted (ESS >= {MIN_ESS} of the runs "
        "and a finite interval); a rate that diverged or whose estimate cannot be trusted is out")
choice = {}
for m in sorted(os.listdir(root)):
    if not os.path.isdir(os.path.join(root, m)):
        continue
    scores = {}
    for d in sorted(os.listdir(os.path.join(root, m))):
        lr = d[2:]
        f = os.path.join(root, m, d, "history.json")
        if os.path.exists(os.path.join(root, m, d, "failed.txt")):
            scores[lr] = {"status": "diverged"}
            continue
        if not os.path.exists(f):
            continue
        ll = json.load(open(f))["epochs"][-1].get("metrics", {}).get("ais_log_likelihood_held_out")
        if not isinstance(ll, dict) or not isinstance(ll.get("value"), float):
            scores[lr] = {"status": "no estimate"}
            continue
        trusted = ll["ess"] >= MIN_ESS and all(
            isinstance(ll[k], float) and math.isfinite(ll[k]) for k in ("lower", "upper"))
        scores[lr] = {"status": "trusted" if trusted else "untrusted", "ll": ll["value"],
                      "lower": ll["lower"], "upper": ll["upper"], "ess": ll["ess"],
                      "runs": ll["runs"]}
    ok = {lr: s["ll"] for lr, s in scores.items() if s["status"] == "trusted"}
    if ok:
        best = max(ok, key=ok.get)
        # A higher score that could not be trusted: the choice may be too cautious.
        higher = sorted(lr for lr, s in scores.items()
                        if s["status"] == "untrusted" and s["ll"] > ok[best])
        choice[m] = {"lr": float(best), "rule": RULE, "validation_ais_ll": scores,
                     "higher_untrusted": higher}
tmp = os.path.join(root, "choice.json.tmp")
json.dump(choice, open(tmp, "w"), indent=1)
os.replace(tmp, os.path.join(root, "choice.json"))
for m, c in choice.items():
    flag = f"  (higher but untrusted: {', '.join(c['higher_untrusted'])})" if c["higher_untrusted"] else ""
    print(f"{m}: lr {c['lr']}{flag}")
PY
}

main_run() {
    local m=$1 seed=$2 dir="$OUT/runs/$1/seed$2"
    local lr
    lr=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["lr"])' \
        "$OUT/grid/choice.json" "$m")
    mkdir -p "$dir"
    [ -f "$dir/model.json" ] && return 0
    local resume=()
    [ -f "$dir/model.checkpoint.json" ] && resume=(--resume "$dir/model.checkpoint.json")
    local at
    at=$(python3 -c 'import sys; e=int(sys.argv[1]); print(",".join(str(x) for x in (1,2,5,10,20,30,50) if x <= e))' "$EPOCHS")
    uptime >> "$dir/load.txt"
    # shellcheck disable=SC2046
    "$BIN" train --data "$MNIST" $(method_flags "$m") --lr "$lr" --epochs "$EPOCHS" \
        --seed "$seed" "${common[@]}" --monitor-every 1 --monitor-subset 1000 \
        --emf --tap tap2 --estimate-epochs "$at" --ais-epochs "$at" --ais-betas "$BETAS" \
        --ais-rows 1000 "${resume[@]}" --out "$dir/model.json" 2>> "$dir/log.txt" || {
        [ -f "$dir/model.checkpoint.json" ] &&
            extract_history "$dir/model.checkpoint.json" "$dir/history.json"
        return 1
    }
    uptime >> "$dir/load.txt"
    extract_history "$dir/model.json" "$dir/history.json"
}

cargo build --release --quiet
case $phase in
    grid)
        for m in "${METHODS[@]}"; do for lr in $LRS; do grid "$m" "$lr"; done; done
        choose
        ;;
    main)
        for seed in $SEEDS; do for m in "${METHODS[@]}"; do main_run "$m" "$seed"; done; done
        ;;
    summary)
        for c in "$OUT"/runs/*/seed*/model.checkpoint.json; do
            [ -f "$c" ] || continue
            d=$(dirname "$c")
            [ -f "$d/model.json" ] || extract_history "$c" "$d/history.json"
        done
        cargo run --release --quiet --example mnist_study_summary -- "$OUT"
        ;;
    *)
        sed -n 2,26p "$0"
        exit 2
        ;;
esac
