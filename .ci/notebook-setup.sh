#!/usr/bin/env bash
# Installs what the evcxr (Rust) notebooks need, skipping whatever is already there:
#   1. evcxr_jupyter (the Jupyter kernel for Rust), via `cargo install` (~16 min on 2 cores);
#   2. a Python venv with the headless Jupyter pieces (jupyter-client, nbconvert, nbclient,
#      nbformat), default /opt/nbvenv (override with NB_VENV=/some/dir);
#   3. the kernel spec `rust`, registered inside that venv so its `jupyter nbconvert` finds it.
# Idempotent: a second run only checks. Needs rust (cargo) and python3; on Debian, as root,
# it installs python3-venv / a C compiler with apt-get when they are missing.
# Then run the notebooks with notebooks/run.sh (same NB_VENV).
set -euo pipefail

NB_VENV="${NB_VENV:-/opt/nbvenv}"
EVCXR_VERSION="0.22.0"
PY_PACKAGES=("jupyter-client>=8" "nbconvert>=7" "nbclient>=0.10" "nbformat>=5.9")

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
did=()
say() { printf '[notebook-setup] %s\n' "$*"; }
t_start=$(date +%s)

apt_install() {
    # Installs Debian packages when possible (root + apt-get); otherwise explains and fails.
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        say "apt-get install $*"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
        did+=("apt-get install $*")
    else
        say "ERROR: missing system packages ($*); install them and re-run" >&2
        exit 1
    fi
}

command -v cargo >/dev/null || { say "ERROR: cargo not found (install rust first)" >&2; exit 1; }
command -v python3 >/dev/null || { say "ERROR: python3 not found" >&2; exit 1; }

# --- 1. evcxr_jupyter --------------------------------------------------------------------------
if command -v evcxr_jupyter >/dev/null; then
    say "evcxr_jupyter present: $(command -v evcxr_jupyter)"
else
    command -v cc >/dev/null || apt_install gcc libc6-dev
    say "installing evcxr_jupyter $EVCXR_VERSION with cargo (takes ~16 min on 2 cores)..."
    t0=$(date +%s)
    cargo install evcxr_jupyter --locked --version "$EVCXR_VERSION"
    did+=("cargo install evcxr_jupyter $EVCXR_VERSION ($(( $(date +%s) - t0 )) s)")
fi
EVCXR_BIN="$(command -v evcxr_jupyter)"

# --- 2. Python venv with the Jupyter pieces ----------------------------------------------------
if [ ! -x "$NB_VENV/bin/python" ]; then
    say "creating venv $NB_VENV"
    if ! python3 -m venv "$NB_VENV" 2>/dev/null; then
        rm -rf "$NB_VENV"
        # Debian's python3 ships venv/ensurepip separately (package python3-venv).
        apt_install python3-venv
        python3 -m venv "$NB_VENV"
    fi
    did+=("created venv $NB_VENV")
fi
check_py='import jupyter_client, jupyter_core, nbconvert, nbclient, nbformat'
if "$NB_VENV/bin/python" -c "$check_py" 2>/dev/null && [ -x "$NB_VENV/bin/jupyter-nbconvert" ]; then
    say "venv $NB_VENV has the Jupyter packages"
else
    say "pip install ${PY_PACKAGES[*]} into $NB_VENV"
    t0=$(date +%s)
    "$NB_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}"
    "$NB_VENV/bin/python" -c "$check_py"
    did+=("pip install ${PY_PACKAGES[*]} ($(( $(date +%s) - t0 )) s)")
fi

# --- 3. kernel spec `rust` inside the venv ----------------------------------------------------
KERNEL_JSON="$NB_VENV/share/jupyter/kernels/rust/kernel.json"
if [ -f "$KERNEL_JSON" ] && grep -qF "\"$EVCXR_BIN\"" "$KERNEL_JSON"; then
    say "kernel 'rust' registered: $KERNEL_JSON"
else
    # evcxr_jupyter --install writes $JUPYTER_PATH/kernels/rust (JUPYTER_PATH must be ONE dir).
    JUPYTER_PATH="$NB_VENV/share/jupyter" "$EVCXR_BIN" --install >/dev/null
    did+=("registered kernel 'rust' in $NB_VENV/share/jupyter/kernels/rust")
fi
"$NB_VENV/bin/jupyter" kernelspec list 2>/dev/null | grep -qE '^\s*rust\s' || {
    say "ERROR: jupyter in $NB_VENV does not list kernel 'rust'" >&2
    "$NB_VENV/bin/jupyter" kernelspec list >&2
    exit 1
}

if [ ${#did[@]} -eq 0 ]; then
    say "nothing to do: everything was already installed ($(( $(date +%s) - t_start )) s)"
else
    say "done in $(( $(date +%s) - t_start )) s:"
    for d in "${did[@]}"; do say "  - $d"; done
fi
