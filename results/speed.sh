#!/usr/bin/env bash
# Regenerates results/speed.md's measurements:
#  1. seconds per MNIST epoch (60 000 x 784, 500 hidden, batch 100, 1 epoch, no monitoring) of
#     emf-rbm's methods in f64 and f32 on 2 threads and on 1 (RAYON_NUM_THREADS=1),
#     interleaved with the Python baselines of ../shared/bench (A B A B ...), ROUNDS rounds;
#     medians and ratios as a Markdown table;
#  2. the benches' summaries: one update per method against its GEMM-work bound and its time
#     split (benches/update.rs), AIS per step and the full standard schedule (benches/ais.rs),
#     exact ln Z for 784 x 20 (benches/core.rs).
#   bash results/speed.sh [ROUNDS]            (from anywhere; default 2 rounds)
#   bash results/speed.sh sampling [ROUNDS]   CD-1 and PCD-1 (sparse and --dense-products)
#     against scikit-learn's PCD-1 only, 2 threads, default 4 rounds: more rounds of the
#     comparison behind the CD/PCD targets, for a machine whose load comes and goes
# Needs ../shared/bench (baselines.sh makes its venv) and MNIST in $EMF_RBM_DATA/mnist
# (default ../shared/data/mnist). Run it on a quiet machine (check `uptime`).
set -eu
cd "$(dirname "$0")/.."
mode=full
if [ "${1:-}" = sampling ]; then mode=sampling; shift; fi
rounds=${1:-2}
[ $mode = sampling ] && rounds=${1:-4}
uptime
cargo build --release -q
[ $mode = full ] && cargo bench --no-run -q 2>/dev/null
bin=target/release/emf-rbm
data=${EMF_RBM_DATA:-../shared/data}/mnist
tmp=$(mktemp -d)
log=$tmp/times.txt
# cd1-dense, pcd1-dense: the same methods with every product a GEMM (--dense-products).
methods="cd1 cd1-dense pcd1 pcd1-dense mf tap2 tap3"
epoch() {  # method[-dense] precision threads
  local flag="" method=${1%-dense}
  [ "$2" = f32 ] && flag=--f32
  [ "$method" != "$1" ] && flag="$flag --dense-products"
  RAYON_NUM_THREADS=$3 "$bin" train --data "$data" --hidden 500 --method "$method" --batch 100 \
    --lr 0.01 --epochs 1 --monitor-every 0 $flag --seed 1 --out "$tmp/m.json" > /dev/null 2>&1
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['history']['train_seconds'])" "$tmp/m.json"
}
if [ $mode = sampling ]; then
  bench=../shared/bench
  venv=${BENCH_VENV:-${TMPDIR:-/tmp}/emf-rbm-bench-venv}
  [ -x "$venv/bin/python" ] || bash "$bench/baselines.sh" 0 > /dev/null
  export MNIST_DIR=${MNIST_DIR:-$(cd "$bench/../data/mnist" && pwd)}
  per() { grep -o 'per epoch: min [0-9.]* / median [0-9.]*' | awk '{print $NF}'; }
  methods="cd1 cd1-dense pcd1 pcd1-dense"
  for r in $(seq "$rounds"); do
    for p in f64 f32; do
      dt=float64; [ $p = f32 ] && dt=float32
      echo "baseline sklearn PCD-1 $p: $("$venv/bin/python" "$bench/run_sklearn_rbm.py" --epochs 1 --score-every 0 --dtype $dt | per) s/epoch" | tee -a "$log"
      for m in $methods; do
        echo "emf-rbm $m $p: $(epoch $m $p 2) s/epoch" | tee -a "$log"
      done
    done
  done
fi
for r in $(seq "$rounds"); do
  [ $mode = full ] || break
  bash ../shared/bench/baselines.sh 1 | sed "s/^/baseline /" | tee -a "$log"
  for m in $methods; do
    for p in f64 f32; do
      echo "emf-rbm $m $p: $(epoch $m $p 2) s/epoch" | tee -a "$log"
    done
  done
  for m in $methods; do
    for p in f64 f32; do
      echo "emf-rbm 1t $m $p: $(epoch $m $p 1) s/epoch" | tee -a "$log"
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
base = {}
for m in ("cd1", "cd1-dense", "pcd1", "pcd1-dense"):
    base[(m, "f64")], base[(m, "f32")] = "sklearn PCD-1 f64", "sklearn PCD-1 f32"
for o, m in ((1, "mf"), (2, "tap2"), (3, "tap3")):
    base[(m, "f64")] = f"numpy TAP order {o} float64"
    base[(m, "f32")] = f"numpy TAP order {o} float32"
print(f"\n{sys.argv[2]} interleaved rounds, medians (s per epoch, 2 threads):\n")
print("| method | emf-rbm f64 | baseline f64 | ratio | emf-rbm f32 | baseline f32 | ratio | f64 / f32 | 2 vs 1 thread f64 | f32 |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
nan = float("nan")
for m in ("cd1", "cd1-dense", "pcd1", "pcd1-dense", "mf", "tap2", "tap3"):
    if f"emf-rbm {m} f64" not in med:
        continue
    a, b = med[f"emf-rbm {m} f64"], med[f"emf-rbm {m} f32"]
    a1, b1 = med.get(f"emf-rbm 1t {m} f64", nan), med.get(f"emf-rbm 1t {m} f32", nan)
    x, y = med[base[(m, "f64")]], med[base[(m, "f32")]]
    up = lambda one, two: "-" if one != one else f"{one / two:.2f}x"
    print(f"| {m} | {a:.2f} | {x:.2f} ({base[(m, 'f64')]}) | {a / x:.2f} | {b:.2f} | {y:.2f} | {b / y:.2f} | {a / b:.2f} | {up(a1, a)} | {up(b1, b)} |")
print("\nall runs:")
for k, v in sorted(times.items()):
    print(f"  {k}: {', '.join(f'{x:.2f}' for x in v)}")
PY
if [ $mode = sampling ]; then uptime; exit 0; fi
echo
echo "== benches/update.rs (one update per method; GEMM-work bound; time split)"
cargo bench -q --bench update -- no-criterion-benchmark 2>/dev/null | grep -v "^$\|Gnuplot\|^Benchmarking"
echo
echo "== benches/ais.rs (AIS step, full standard schedule)"
cargo bench -q --bench ais -- no-criterion-benchmark 2>/dev/null | grep "^\["
echo
echo "== benches/core.rs (exact ln Z, 784 x 20)"
cargo bench -q --bench core -- no-criterion-benchmark 2>/dev/null | grep "^\[exact\]"
uptime
