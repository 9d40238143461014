#!/bin/sh
# kubectl-mesh_trace, node-launcher edition: runs the bundle next to this script with the `node` on
# PATH (>= 20.19). krew links this file from $KREW_ROOT/bin, so resolve the link to find lib/.
self=$0
while [ -L "$self" ]; do
  link=$(readlink "$self")
  case $link in
    /*) self=$link ;;
    *) self=$(dirname "$self")/$link ;;
  esac
done
dir=$(cd "$(dirname "$self")" && pwd -P)
if ! command -v node >/dev/null 2>&1; then
  echo "kubectl mesh-trace needs Node.js >= 20.19 on PATH (https://nodejs.org), or use a platform with a single-binary release." >&2
  exit 1
fi
exec node "$dir/lib/cli.mjs" "$@"
