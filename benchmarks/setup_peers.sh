#!/usr/bin/env bash
# Create one virtual environment per peer library under benchmarks/.venv-<name> (ignored by git),
# from the pinned requirement files in benchmarks/peers/<name>.txt. Peers never enter crmkit's own
# environment: benchmarks run them in a subprocess with that venv's python.
#
#   bash benchmarks/setup_peers.sh            # every peer
#   bash benchmarks/setup_peers.sh lifetimes  # one peer
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in "$here"/peers/*.txt; do names+=("$(basename "$f" .txt)"); done
fi
for name in "${names[@]}"; do
  req="$here/peers/$name.txt"
  [ -f "$req" ] || { echo "no $req" >&2; exit 1; }
  venv="$here/.venv-$name"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
  fi
  "$venv/bin/python" -m pip install --quiet -r "$req"
  echo "$name: $venv"
done
