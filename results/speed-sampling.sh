#!/usr/bin/env bash
# The sampling methods only (CD-1, PCD-1, each with the sparse products and with
# --dense-products) against scikit-learn's PCD-1, interleaved A B A B for ROUNDS rounds
# (default 4): seconds per MNIST epoch (60 000 x 784, 500 hidden, batch 100, 2 threads),
# medians, ratios, and every run. A shorter companion of results/speed.sh for a machine whose
# load comes and goes: more rounds of the comparison that matters for the CD/PCD targets.
#   bash results/speed-sampling.sh [ROUNDS]
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-4}
uptime
cargo build --release -q
bin=target/release/emf-rbm
data=${EMF_RBM_DATA:-../shared/data}/mnist
bench=../shared/bench
venv=${BENCH_VENV:-${TMPDIR:-/tmp}/emf-rbm-bench-venv}
[ -x "$venv/bin/python" ] || bash "$bench/baselines.sh" 0 > /dev/null
export MNIST_DIR=${MNIST_DIR:-$(cd "$bench/../data/mnist" && pwd)}
tmp=$(mktemp -d)
log=$tmp/times.txt
per() { grep -o 'per epoch: min [0-9.]* / median [0-9.]*' | awk '{print $NF}'; }
epoch() {  # method[-dense] precision
  local flag="" method=${1%-dense}
  [ "$2" = f32 ] && flag=--f32
  [ "$method" != "$1" ] && flag="$flag --dense-products"
  "$bin" train --data "$data" --hidden 500 --method "$method" --batch 100 --lr 0.01 \
    --epochs 1 --monitor-every 0 $flag --seed 1 --out "$tmp/m.json" > /dev/null 2>&1
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['history']['train_seconds'])" "$tmp/m.json"
}
for r in $(seq "$rounds"); do
  for p in f64 f32; do
    dt=float64; [ $p = f32 ] && dt=float32
    echo "sklearn PCD-1 $p: $("$venv/bin/python" "$bench/run_sklearn_rbm.py" --epochs 1 --score-every 0 --dtype $dt | per) s/epoch" | tee -a "$log"
    for m in cd1 cd1-dense pcd1 pcd1-dense; do
      echo "emf-rbm $m $p: $(epoch $m $p) s/epoch" | tee -a "$log"
    done
  done
done
python3 - "$log" "$rounds" <<'PY'
import re, statistics, sys
times = {}
for line in open(sys.argv[1]):
    m = re.match(r"(.*): ([0-9.]+) s/epoch", line.strip())
    if m:
        times.setdefault(m.group(1), []).append(float(m.group(2)))
med = {k: statistics.median(v) for k, v in times.items()}
print(f"\n{sys.argv[2]} interleaved rounds, medians (s per epoch, 2 threads):\n")
print("| method | emf-rbm f64 | sklearn PCD-1 f64 | ratio | emf-rbm f32 | sklearn PCD-1 f32 | ratio | f64 / f32 |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for m in ("cd1", "cd1-dense", "pcd1", "pcd1-dense"):
    a, b = med[f"emf-rbm {m} f64"], med[f"emf-rbm {m} f32"]
    x, y = med["sklearn PCD-1 f64"], med["sklearn PCD-1 f32"]
    print(f"| {m} | {a:.2f} | {x:.2f} | {a / x:.2f} | {b:.2f} | {y:.2f} | {b / y:.2f} | {a / b:.2f} |")
print("\nall runs:")
for k, v in sorted(times.items()):
    print(f"  {k}: {', '.join(f'{x:.2f}' for x in v)}")
PY
uptime
