#!/usr/bin/env bash
# The MNIST study: does TAP/EMF training give better RBMs than sampling, per epoch and per
# second? Binarised MNIST (threshold 0.5), 500 hidden units, batch 100, momentum 0.5, f32.
#
#   results/mnist-study/run.sh grid [METHODS...]   learning rate per method (validation split)
#   results/mnist-study/run.sh main [METHODS...]   the scored runs (SEEDS, default "1 2")
#   results/mnist-study/run.sh timing [METHODS...] seconds per epoch, interleaved, quiet
#   results/mnist-study/run.sh summary             summary.json, table.md, plots
#
# grid: the learning rate per method, by one rule for all, on a validation split: the first
#   50 000 training images train, the other 10 000 validate (train/eval --held-out 1/6, seed 1).
#   1. Screen: each rate of LRS ("0.003 0.01 0.03 0.1") trains SCREEN_EPOCHS (3) epochs.
#   2. Extend: the KEEP (2) rates with the best screen scores continue to GRID_EPOCHS (10)
#      epochs, resumed from their checkpoints (a rate can look best after 3 epochs and then
#      collapse: CD-1 at 0.03 peaks at epoch 5).
#   3. Choose: the extended rate with the best score after GRID_EPOCHS.
#   Rule v3, the score: the RAISE estimate (the conservative side of the bracket: a stochastic
#   lower bound) of the validation log-likelihood on BRACKET_ROWS (200) validation rows, with
#   forward AIS (100 runs) on the same rows as the upper side, both on the standard 14 500
#   temperatures (bracket<E>.json); a diverged run or a score that is not finite is out.
#   Rule v2 (scores kept in score<E>.json, 1 000 rows, forward AIS only, trusted when its ESS
#   is at least 10 of 100 runs) could not rank the mean-field family's faster rates, and an
#   ESS above 10 did not protect it from a forward estimate 100 nats too high (P-MF, 0.03).
#   grid/choice.json records the rate, every bracket, and the rates whose AIS side was higher.
# main: each method at its chosen rate, EPOCHS (50) epochs on the 60 000 training images, for
#   each seed of SEEDS. At epochs 1, 2, 5, 10, 20, 30, 50: forward AIS and RAISE on the same
#   fixed 1 000 test images (3 000 temperatures, AIS 100 runs, RAISE one reverse chain per
#   image), the TAP2 ln Z estimate (200 starts, converging solver) and the paper's EMF
#   likelihood. The monitor's free energies every epoch. After the last epoch: the read-out
#   (logistic regression on the hidden marginals, test accuracy; readout.json).
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
LRS=${LRS:-"0.003 0.01 0.03 0.1"}
SCREEN_EPOCHS=${SCREEN_EPOCHS:-3}
GRID_EPOCHS=${GRID_EPOCHS:-10}
KEEP=${KEEP:-2}
BRACKET_ROWS=${BRACKET_ROWS:-200}
VALIDATION=0.16666667
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

# Trains (or resumes) a grid run to $3 epochs: model.json after the screen, model<E>.json
# after the extension, which resumes from the screen's checkpoint.
grid_train() {
    local m=$1 lr=$2 epochs=$3 dir="$OUT/grid/$1/lr$2"
    local name=model
    [ "$epochs" != "$SCREEN_EPOCHS" ] && name=model$epochs
    mkdir -p "$dir"
    [ -f "$dir/failed.txt" ] || [ -f "$dir/$name.json" ] && return 0
    local resume=()
    if [ -f "$dir/$name.checkpoint.json" ]; then
        resume=(--resume "$dir/$name.checkpoint.json")
    elif [ "$name" != model ]; then
        resume=(--resume "$dir/model.checkpoint.json")
    fi
    # shellcheck disable=SC2046
    if ! "$BIN" train --data "$MNIST/train-images-idx3-ubyte.gz" --held-out "$VALIDATION" \
        $(method_flags "$m") --lr "$lr" --epochs "$epochs" --seed 1 "${common[@]}" \
        --monitor-every 0 "${resume[@]}" --out "$dir/$name.json" 2>> "$dir/log.txt"; then
        echo "failed (see $dir/log.txt): $(tail -1 "$dir/log.txt")" | tee "$dir/failed.txt"
        return 0
    fi
    extract_history "$dir/$name.json" "$dir/history${name#model}.json"
}

# The validation bracket of a grid model after $3 epochs: bracket<E>.json, eval's JSON with
# forward AIS and RAISE on the same BRACKET_ROWS validation rows.
grid_score() {
    local dir="$OUT/grid/$1/lr$2" epochs=$3
    local model=$dir/model.json
    [ "$epochs" != "$SCREEN_EPOCHS" ] && model=$dir/model$epochs.json
    [ -f "$model" ] && [ ! -f "$dir/bracket$epochs.json" ] || return 0
    "$BIN" eval "$model" --data "$MNIST/train-images-idx3-ubyte.gz" --held-out "$VALIDATION" \
        --split-seed 1 --seed 1 --f32 --ais --ais-runs 100 --ais-betas standard \
        --ais-rows "$BRACKET_ROWS" --exact-max 0 --tap-starts 1 --json \
        > "$dir/bracket$epochs.json.tmp" 2>> "$dir/log.txt"
    mv "$dir/bracket$epochs.json.tmp" "$dir/bracket$epochs.json"
}

# choose.py keep M: the rates of method M the screen sends on; choose.py choose: choice.json.
choose() {
    python3 "$OUT/choose.py" "$OUT/grid" "$SCREEN_EPOCHS" "$GRID_EPOCHS" "$KEEP" "$@"
}

main_run() {
    local m=$1 seed=$2 dir="$OUT/runs/$1/seed$2"
    local lr
    lr=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["lr"])' \
        "$OUT/grid/choice.json" "$m")
    mkdir -p "$dir"
    # A run made at another rate (before the choice changed) is never reused silently.
    if [ -f "$dir/history.json" ] && ! python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["config"]["learning_rate"] != float(sys.argv[2]))' "$dir/history.json" "$lr"; then
        echo "$dir was trained at another rate than the chosen $lr: move it aside first" >&2
        return 1
    fi
    readout "$dir"
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
    readout "$dir"
}

# readout.json: logistic regression on the hidden marginals of the finished model, fitted on
# the 60 000 training images, accuracy on the 10 000 test images (eval --readout).
readout() {
    local dir=$1
    [ -f "$dir/model.json" ] && [ ! -f "$dir/readout.json" ] || return 0
    "$BIN" eval "$dir/model.json" --data "$MNIST" --readout --exact-max 0 --tap-starts 1 \
        --json > "$dir/readout.json.tmp" 2>> "$dir/log.txt"
    mv "$dir/readout.json.tmp" "$dir/readout.json"
}

cargo build --release --quiet
case $phase in
    grid)
        for m in "${METHODS[@]}"; do
            for lr in $LRS; do
                grid_train "$m" "$lr" "$SCREEN_EPOCHS"
                grid_score "$m" "$lr" "$SCREEN_EPOCHS"
            done
            for lr in $(choose keep "$m"); do
                grid_train "$m" "$lr" "$GRID_EPOCHS"
                grid_score "$m" "$lr" "$GRID_EPOCHS"
            done
        done
        choose choose
        ;;
    main)
        for seed in $SEEDS; do for m in "${METHODS[@]}"; do main_run "$m" "$seed"; done; done
        ;;
    timing)
        # Interleaved rounds (method A, B, ..., then again), TIMING_ROUNDS (2) of them, each a
        # fresh TIMING_EPOCHS (2)-epoch run at the chosen rate with no monitor: the seconds per
        # epoch of the updates, on a machine with nothing else running (check load.txt).
        mkdir -p "$OUT/timing"
        uptime >> "$OUT/timing/load.txt"
        for round in $(seq "${TIMING_ROUNDS:-2}"); do
            for m in "${METHODS[@]}"; do
                lr=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], {}).get("lr", ""))' \
                    "$OUT/grid/choice.json" "$m")
                if [ -z "$lr" ]; then
                    echo "$m: no rate chosen yet (grid/choice.json), not timed" >&2
                    continue
                fi
                # shellcheck disable=SC2046
                line=$("$BIN" train --data "$MNIST" $(method_flags "$m") --lr "$lr" \
                    --epochs "${TIMING_EPOCHS:-2}" --seed 1 --hidden 500 --batch 100 \
                    --momentum 0.5 --f32 --quiet --monitor-every 0 --out "$OUT/timing/model.json" 2>&1 |
                    grep 'per epoch')
                echo "$m round $round: $line" | tee -a "$OUT/timing/log.txt"
            done
        done
        uptime >> "$OUT/timing/load.txt"
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
        sed -n '2,/^set -euo/p' "$0" | sed '$d' 
        exit 2
        ;;
esac
