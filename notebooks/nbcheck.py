"""Helper of run.sh (run with the notebook venv's python): prepares a notebook for execution and
checks the executed copy.

    nbcheck.py prepare SRC COPY   copy SRC to COPY and append a sentinel cell
    nbcheck.py finish COPY DST    exit 1 (listing the failed cells) when COPY has a failure,
                                  else drop the sentinel cell and write COPY to DST

Why the checks are needed: evcxr gives a cell a successful status when the code panics or
returns an error through `?`; it only writes the message to stderr. And its stderr reaches
Jupyter asynchronously, so a message can land in the cell that runs next: the sentinel cell
(a short sleep) catches what the real last cell writes late. A run fails when any cell has an
error output or any stderr output, except in cells tagged `raises-exception` (errors allowed)
or `allow-stderr` (stderr allowed).
"""

import re
import sys

import nbformat

SENTINEL_TAG = "run-sh-sentinel"
SENTINEL_SOURCE = "std::thread::sleep(std::time::Duration::from_millis(500));"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def prepare(src, copy):
    nb = nbformat.read(src, as_version=4)
    cell = nbformat.v4.new_code_cell(SENTINEL_SOURCE)
    cell.metadata["tags"] = [SENTINEL_TAG]
    nb.cells.append(cell)
    nbformat.write(nb, copy)


def failures(nb):
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        msgs = []
        for o in cell.get("outputs", []):
            if o.output_type == "error" and "raises-exception" not in tags:
                lines = o.get("traceback") or [o.get("ename", ""), o.get("evalue", "")]
                msgs.append("\n".join(lines) + "\n")
            elif o.output_type == "stream" and o.name == "stderr" and "allow-stderr" not in tags:
                msgs.append(o.text)  # evcxr sends one output per line, each ending in \n
        if msgs:
            if SENTINEL_TAG in tags:
                what = "late stderr of the last cell (caught by the sentinel cell)"
            else:
                what = f"cell {i} (or late stderr of the code cell before it)"
            text = ANSI.sub("", "".join(msgs)).rstrip()
            out.append(f"--- {what}:\n{cell.source}\n--- output:\n{text}")
    return out


def finish(copy, dst):
    nb = nbformat.read(copy, as_version=4)
    bad = failures(nb)
    if bad:
        print("\n".join(bad), file=sys.stderr)
        return 1
    nb.cells = [c for c in nb.cells if SENTINEL_TAG not in c.metadata.get("tags", [])]
    nbformat.write(nb, dst)
    return 0


if __name__ == "__main__":
    cmd, a, b = sys.argv[1:4]
    if cmd == "prepare":
        prepare(a, b)
        sys.exit(0)
    if cmd == "finish":
        sys.exit(finish(a, b))
    sys.exit(f"nbcheck.py: unknown command {cmd}")
