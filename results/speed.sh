#!/usr/bin/env bash
# Seconds per MNIST epoch (60 000 x 784, 500 hidden, batch 100, 1 epoch, no monitoring) of
# emf-rbm's methods in f64 and f32, interleaved with the Python baselines of ../shared/bench
# (A B A B ...), ROUNDS rounds; then the medians and ratios as a Markdown table.
#   bash results/speed.sh [ROUNDS]        (from anywhere; default 2 rounds)
# Needs ../shared/bench (baselines.sh makes its venv) and MNIST in $EMF_RBM_DATA/mnist
# (default ../shared/data/mnist). Run it on a quiet machine (check `uptime`).
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-2}
cargo build --release -q
bin=target/release/emf-rbm
data=${EMF_RBM_DATA:-../shared/data}/mnist
tmp=$(mktemp -d)
log=$tmp/times.txt
for r in $(seq "$rounds"); do
  bash ../shared/bench/baselines.sh 1 | sed "s/^/baseline /" | tee -a "$log"
  for m in cd1 pcd1 mf tap2 tap3; do
    for p in f64 f32; do
      flag=""
      [ "$p" = f32 ] && flag=--f32
      "$bin" train --data "$data" --hidden 500 --method "$m" --batch 100 --lr 0.01 --epochs 1 \
        --monitor-every 0 $flag --seed 1 --out "$tmp/m.json" > /dev/null 2>&1
      s=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['history']['train_seconds'])" "$tmp/m.json")
      echo "emf-rbm $m $p: $s s/epoch" | tee -a "$log"
    done
  done
done
python3 - "$log" "$rounds" <<'PY'
import re, statistics, sys
times = {}
for line in open(sys.argv[1]):
    m = re.match(r"(baseline |)(.*): ([0-9.]+) s/epoch", line.strip())
    if m:
        times.setdefault(m.group(2), []).append(float(m.group(3)))
med = {k: statistics.median(v) for k, v in times.items()}
base = {("cd1", "f64"): "sklearn PCD-1 f64", ("cd1", "f32"): "sklearn PCD-1 f32",
        ("pcd1", "f64"): "sklearn PCD-1 f64", ("pcd1", "f32"): "sklearn PCD-1 f32"}
for o, m in ((1, "mf"), (2, "tap2"), (3, "tap3")):
    base[(m, "f64")] = f"numpy TAP order {o} float64"
    base[(m, "f32")] = f"numpy TAP order {o} float32"
print(f"\n{sys.argv[2]} interleaved rounds, medians (s per epoch):\n")
print("| method | emf-rbm f64 | baseline f64 | ratio | emf-rbm f32 | baseline f32 | ratio | f64 / f32 |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for m in ("cd1", "pcd1", "mf", "tap2", "tap3"):
    a, b = med[f"emf-rbm {m} f64"], med[f"emf-rbm {m} f32"]
    x, y = med[base[(m, "f64")]], med[base[(m, "f32")]]
    print(f"| {m} | {a:.2f} | {x:.2f} ({base[(m, 'f64')]}) | {a / x:.2f} | {b:.2f} | {y:.2f} | {b / y:.2f} | {a / b:.2f} |")
PY
