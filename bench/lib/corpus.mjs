// Builds the two corpora as plain copies under the work folder, so that every tool reads exactly the same
// files from the same place:
// - python: every .py file of the CPython standard library that Debian's python3 installs;
// - js: a fixed, deterministic subset of the .js/.mjs/.cjs files of the project's own node_modules.
// The copies carry no node_modules, dist or venv folder names (which Sentinel's walker and ESLint skip by
// design), and the JS copy is split into esm/ and cjs/ by each file's module type so that ESLint parses
// each file the way Node would load it.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO, WORK_DIR, capture, countLines } from './common.mjs';

/** The stdlib folder: Debian's /usr/lib/python3.11 when present, else the newest /usr/lib/python3.N, else sysconfig's. */
export function findPythonStdlib(explicit) {
  if (explicit) return { dir: path.resolve(explicit), how: 'given with --python-stdlib' };
  if (fs.existsSync('/usr/lib/python3.11/os.py')) return { dir: '/usr/lib/python3.11', how: "Debian's python3 (bookworm's 3.11)" };
  const debian = fs
    .readdirSync('/usr/lib')
    .filter((n) => /^python3\.\d+$/.test(n) && fs.existsSync(path.join('/usr/lib', n, 'os.py')))
    .sort((a, b) => Number(b.split('.')[1]) - Number(a.split('.')[1]));
  if (debian.length > 0) return { dir: path.join('/usr/lib', debian[0]), how: "Debian's python3" };
  for (const py of ['/usr/bin/python3', 'python3']) {
    const dir = capture(py, ['-c', 'import sysconfig; print(sysconfig.get_paths()["stdlib"])']);
    if (dir && fs.existsSync(dir)) return { dir, how: `sysconfig of ${py} (not Debian's: numbers differ from the issue's)` };
  }
  return undefined;
}

/** Folders of a Python install that are not the standard library itself. */
const PY_SKIP = new Set(['site-packages', 'dist-packages', '__pycache__']);

function walk(dir, onFile, skipDir) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = path.join(dir, e.name);
    // Symlinks are not followed: node_modules/.bin and workspace links would count files twice.
    if (e.isSymbolicLink()) continue;
    if (e.isDirectory()) {
      if (!skipDir(e.name, p)) walk(p, onFile, skipDir);
    } else if (e.isFile()) onFile(p);
  }
}

function stageFiles(entries, destRoot) {
  fs.rmSync(destRoot, { recursive: true, force: true });
  const files = [];
  let lines = 0;
  let bytes = 0;
  for (const { src, rel } of entries) {
    const dest = path.join(destRoot, rel);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    const buf = fs.readFileSync(src);
    fs.writeFileSync(dest, buf);
    files.push(dest);
    lines += countLines(buf);
    bytes += buf.length;
  }
  return { root: destRoot, files, lines, bytes };
}

export function stagePython(stdlibDir) {
  const entries = [];
  walk(
    stdlibDir,
    (p) => {
      if (p.endsWith('.py')) entries.push({ src: p, rel: path.relative(stdlibDir, p) });
    },
    (name) => PY_SKIP.has(name),
  );
  return stageFiles(entries, path.join(WORK_DIR, 'corpus', 'python'));
}

const JS_EXT = new Set(['.js', '.mjs', '.cjs']);

/** An import or export statement at the start of a line: ES module syntax. */
const ESM_SYNTAX = /^[ \t]*(import[ \t]*[\w*{'"]|export[ \t]+(default|const|let|var|function|async|class)\b|export[ \t]*[{*])/m;

/**
 * Whether `file` is an ES module: by extension, else by the nearest package.json's "type", else by its
 * own import/export statements (packages' "module" builds, loaded by bundlers, declare no type).
 */
function isEsm(file, cache) {
  const ext = path.extname(file);
  if (ext === '.mjs') return true;
  if (ext === '.cjs') return false;
  if (packageTypeIsModule(file, cache)) return true;
  return ESM_SYNTAX.test(fs.readFileSync(file, 'utf8'));
}

function packageTypeIsModule(file, cache) {
  for (let dir = path.dirname(file); dir.length > 1; dir = path.dirname(dir)) {
    if (cache.has(dir)) return cache.get(dir);
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      let type = 'commonjs';
      try {
        type = JSON.parse(fs.readFileSync(pj, 'utf8')).type ?? 'commonjs';
      } catch {
        // a broken package.json loads as CommonJS
      }
      const esm = type === 'module';
      cache.set(dir, esm);
      return esm;
    }
    if (path.basename(dir) === 'node_modules') break;
  }
  return false;
}

/**
 * The JS corpus: .js/.mjs/.cjs files under the project's node_modules (symlinks not followed), without
 * *.min.js and without files over `maxBytes` (bundled builds such as typescript.js), ordered by the
 * SHA-1 of their path relative to node_modules and cut to the first `maxFiles`: the same subset on every
 * machine with the same lockfile, spread over all packages rather than the first ones alphabetically.
 */
export function stageJs({ maxFiles, maxBytes }) {
  const nm = path.join(REPO, 'node_modules');
  const candidates = [];
  let excludedBig = 0;
  let excludedMin = 0;
  walk(
    nm,
    (p) => {
      if (!JS_EXT.has(path.extname(p))) return;
      if (p.endsWith('.min.js')) {
        excludedMin++;
        return;
      }
      if (fs.statSync(p).size > maxBytes) {
        excludedBig++;
        return;
      }
      const rel = path.relative(nm, p).split(path.sep).join('/');
      candidates.push({ src: p, rel, key: createHash('sha1').update(rel).digest('hex') });
    },
    (name) => name === '.cache' || name === '.bin',
  );
  candidates.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const chosen = candidates.slice(0, maxFiles);
  const esmCache = new Map();
  const entries = chosen
    .map((c) => {
      // Nested node_modules become "nm" so that no tool skips them by name.
      const rel = c.rel.split('/').map((seg) => (seg === 'node_modules' ? 'nm' : seg)).join('/');
      return { src: c.src, rel: path.join(isEsm(c.src, esmCache) ? 'esm' : 'cjs', rel) };
    })
    .sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  const staged = stageFiles(entries, path.join(WORK_DIR, 'corpus', 'js'));
  return {
    ...staged,
    candidates: candidates.length,
    excludedBig,
    excludedMin,
    esm: entries.filter((e) => e.rel.startsWith('esm')).length,
  };
}
