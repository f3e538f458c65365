#!/usr/bin/env bash
# Executes the evcxr (Rust kernel) notebooks headless and writes their outputs back in place.
#
#   notebooks/run.sh                 # every notebooks/*.ipynb, in name order
#   notebooks/run.sh 01-quickstart   # one (or several) by name, with or without .ipynb
#
# Install the kernel first with .ci/notebook-setup.sh (the same NB_VENV).
#
# A notebook fails when a cell does not compile, or writes anything to stderr: evcxr reports a
# panic, and an error returned by `?`, only as stderr text with a successful cell status, so the
# executed outputs are checked (see nbcheck.py; a cell tagged `allow-stderr` may write to
# stderr, one tagged `raises-exception` may fail). A failed run does NOT touch the notebook: the
# executed copy is kept in target/evcxr/failed/<name>.ipynb, the kernel's log (with cargo's
# compiler output) in target/evcxr/log/<name>.log. Exit status 0 when every notebook passed.
#
# Environment:
#   NB_VENV          venv with jupyter/nbconvert (default /opt/nbvenv)
#   NB_CELL_TIMEOUT  seconds per cell (default 1200: the first cell compiles the crate)
#   EVCXR_TMPDIR     evcxr's build directory, kept between runs so that re-runs only
#                    recompile what changed (default <repo>/target/evcxr/build)
#   EMF_RBM_DATA     data folder; defaults to <repo>/../shared/data when that exists
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
NB_VENV="${NB_VENV:-/opt/nbvenv}"
NB_CELL_TIMEOUT="${NB_CELL_TIMEOUT:-1200}"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export EVCXR_TMPDIR="${EVCXR_TMPDIR:-$REPO/target/evcxr/build}"
if [ -z "${EMF_RBM_DATA:-}" ] && [ -d "$REPO/../shared/data" ]; then
    EMF_RBM_DATA="$(cd "$REPO/../shared/data" && pwd)"
    export EMF_RBM_DATA
fi
JUPYTER="$NB_VENV/bin/jupyter"
PY="$NB_VENV/bin/python"
if [ ! -x "$JUPYTER" ] || ! "$JUPYTER" kernelspec list 2>/dev/null | grep -qE '^\s*rust\s'; then
    echo "run.sh: no Jupyter with the 'rust' kernel in $NB_VENV; run .ci/notebook-setup.sh first" >&2
    exit 1
fi

# Which notebooks.
notebooks=()
if [ $# -eq 0 ]; then
    for f in "$HERE"/[!.]*.ipynb; do [ -e "$f" ] && notebooks+=("$f"); done
else
    for a in "$@"; do
        f="$HERE/$(basename "${a%.ipynb}").ipynb"
        [ -f "$f" ] || { echo "run.sh: no notebook $f" >&2; exit 1; }
        notebooks+=("$f")
    done
fi
[ ${#notebooks[@]} -gt 0 ] || { echo "run.sh: no notebooks in $HERE" >&2; exit 1; }

FAILED_DIR="$REPO/target/evcxr/failed"
LOG_DIR="$REPO/target/evcxr/log"
mkdir -p "$EVCXR_TMPDIR" "$FAILED_DIR" "$LOG_DIR"
# Start evcxr's generated crate from the repository's lock file, so that notebooks build the
# same dependency versions as `cargo build` (cargo drops the entries it does not need).
if [ ! -f "$EVCXR_TMPDIR/Cargo.lock" ] && [ -f "$REPO/Cargo.lock" ]; then
    cp "$REPO/Cargo.lock" "$EVCXR_TMPDIR/Cargo.lock"
fi

# One run at a time per build directory (evcxr writes its generated crate there).
exec 9>"$EVCXR_TMPDIR.lock"
if command -v flock >/dev/null && ! flock -n 9; then
    echo "run.sh: waiting for another run that uses $EVCXR_TMPDIR" >&2
    flock 9
fi

echo "run.sh: kernel rust, venv $NB_VENV, EVCXR_TMPDIR=$EVCXR_TMPDIR, EMF_RBM_DATA=${EMF_RBM_DATA:-<unset>}"

copy=""
trap '[ -n "$copy" ] && rm -f "$copy"' EXIT
status=0
summary=()
for nb in "${notebooks[@]}"; do
    name="$(basename "$nb" .ipynb)"
    log="$LOG_DIR/$name.log"
    # The executed copy sits next to the original: the kernel starts in the notebook's folder,
    # which `:dep emf-rbm = { path = ".." }` relies on.
    copy="$HERE/.run-$name.ipynb"
    echo "=== $name: executing (kernel log: $log; a cold first cell compiles the crate for minutes)"
    t0=$(date +%s.%N)
    "$PY" "$HERE/nbcheck.py" prepare "$nb" "$copy" || exit 1
    # --allow-errors: run every cell so that the failure is visible; nbcheck.py decides.
    "$JUPYTER" nbconvert --to notebook --execute --inplace --allow-errors \
        --ExecutePreprocessor.kernel_name=rust \
        --ExecutePreprocessor.timeout="$NB_CELL_TIMEOUT" \
        --ExecutePreprocessor.startup_timeout=120 \
        --ExecutePreprocessor.record_timing=False \
        --log-level=WARN "$copy" >"$log" 2>&1
    rc=$?
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    if [ $rc -eq 0 ] && "$PY" "$HERE/nbcheck.py" finish "$copy" "$nb"; then
        rm -f "$copy"
        echo "=== $name: OK in ${secs} s"
        summary+=("OK    ${secs} s  $name")
    else
        status=1
        if [ $rc -ne 0 ]; then
            echo "--- nbconvert failed (exit $rc); last lines of $log:" >&2
            tail -n 30 "$log" >&2
        fi
        mv -f "$copy" "$FAILED_DIR/$name.ipynb"
        echo "=== $name: FAILED after ${secs} s (executed copy: $FAILED_DIR/$name.ipynb; $nb unchanged)" >&2
        summary+=("FAIL  ${secs} s  $name")
    fi
    copy=""
done

echo "=== summary (wall time per notebook)"
printf '  %s\n' "${summary[@]}"
exit $status
