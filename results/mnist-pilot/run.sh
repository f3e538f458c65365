#!/usr/bin/env bash
# The 10-epoch MNIST pilot (issue [estimate]; superseded by results/mnist-study): each method
# trained on the same binarised
# MNIST (threshold 0.5), 500 hidden units, same seed and budget, f32; exact likelihoods are
# infeasible at this size, so the held-out log-likelihood is estimated by AIS (standard
# 14 500-temperature schedule, 100 runs) after the last epoch. One folder per method so that
# finished methods are kept if a later one is interrupted; `table.txt` in each folder.
# Usage: results/mnist-pilot/run.sh [EPOCHS] [METHODS...]   (MNIST from $EMF_RBM_DATA/mnist)
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA="${EMF_RBM_DATA:-../shared/data}/mnist"
EPOCHS="${1:-10}"
shift || true
METHODS=("$@")
[ ${#METHODS[@]} -eq 0 ] && METHODS=(cd1 pcd1 mf tap2 tap3 ptap2 ptap3)
cargo build --release --quiet
for m in "${METHODS[@]}"; do
    ./target/release/emf-rbm compare --data "$DATA" --methods "$m" --hidden 500 \
        --epochs "$EPOCHS" --batch 100 --lr 0.01 --momentum 0.5 --seed 1 --f32 \
        --monitor-subset 300 --quiet --out "results/mnist-pilot/$m"
done
