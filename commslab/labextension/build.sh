#!/bin/sh
# Rebuild comms-lab-reopen/ (the built JupyterLab extension the student wheel installs) from
# source/. Needs node >= 18, npm (it downloads @jupyterlab/builder and @jupyterlab/notebook into
# a temporary folder) and JupyterLab 4 in the Python that runs it (its staging/ is the core the
# extension is built against). Run from anywhere: `sh commslab/labextension/build.sh`.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python}
core=$("$python" -c "import jupyterlab, os; print(os.path.join(os.path.dirname(jupyterlab.__file__), 'staging'))")
work="${TMPDIR:-/tmp}/comms-lab-reopen-build"  # a fixed folder: webpack's module ids follow
rm -rf "$work"                                 # the path, so the same source gives the same bytes
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/source"
cp "$here/source/package.json" "$here/source/index.js" "$work/source/"
cd "$work/source"
npm install --no-audit --no-fund --no-package-lock
node node_modules/@jupyterlab/builder/lib/build-labextension.js --core-path "$core" .
rm -rf "$here/comms-lab-reopen"
cp -r "$work/comms-lab-reopen" "$here/comms-lab-reopen"
echo "built: $here/comms-lab-reopen"
