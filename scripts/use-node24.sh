# Source this file (`source scripts/use-node24.sh`): it puts Node.js >= 24 first on PATH.
# When the system's Node is older, Node 24 is installed once under ~/.cache/node24 from the
# npm registry (the `node` package ships the official binary); the system is not touched.
_aviary_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(_aviary_node_major)" -lt 24 ]; then
  _aviary_node_dir="${AVIARY_NODE_DIR:-$HOME/.cache/node24}"
  if [ ! -x "$_aviary_node_dir/node_modules/.bin/node" ]; then
    echo "Installing Node.js 24 into $_aviary_node_dir (from the npm registry)..." >&2
    npm install --prefix "$_aviary_node_dir" --no-save --no-audit --no-fund --loglevel=error node@24 >&2 || return 1 2>/dev/null || exit 1
  fi
  export PATH="$_aviary_node_dir/node_modules/.bin:$PATH"
  hash -r 2>/dev/null
  unset _aviary_node_dir
fi
unset -f _aviary_node_major
