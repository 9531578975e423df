// Builds the hostile corpus in a temp folder at test time: files too large, too odd or too system-specific
// to commit (a 50 MB source file, FIFOs, devices, symlink loops, broken encodings), each next to a good file.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MAX_GITIGNORE_BYTES } from '../../server/src/engine/walk';

/** The sink every good file holds: a parameter reaching eval(), which JIT-EVAL-COMPILE reports (HIGH, blocks). */
export const GOOD_SOURCE = 'def calculator(expression):\n    return eval(expression)\n';

/** The good sink after an emoji (two UTF-16 code units) and CJK text on its line: `eval` is at line 3, column 24. */
export const UTF16_WIDE_SOURCE = '# \u{1f680} \u542f\u52a8\ndef calculator(expression):\n    s = "\u{1f600}\u4e2d\u6587"; return eval(expression)\n';

/** 50 MB: ten times the default --max-file-size, so the size check, not the parser, must stop it. */
export const HUGE_BYTES = 50 * 1024 * 1024;

export interface SpecialFiles {
  /** Whether mknod worked here (root with CAP_MKNOD): then `special/null_device.py` is a character device. */
  device: boolean;
}

function write(root: string, rel: string, content: string | Buffer): string {
  const abs = path.join(root, rel);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, content);
  return abs;
}

/** A deterministic byte stream (xorshift), so the "binary" files are the same on every run. */
export function pseudoRandomBytes(length: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Writes a file of `bytes` bytes of valid Python (a sink on the last line) without holding it in memory twice. */
function writeHugePython(abs: string, bytes: number): void {
  const line = 'x = 1  # filler line to push the file over the size limit\n';
  const tail = GOOD_SOURCE;
  const chunk = Buffer.from(line.repeat(Math.floor((1024 * 1024) / line.length)));
  const fd = fs.openSync(abs, 'w');
  try {
    let written = 0;
    const body = bytes - tail.length;
    while (written + chunk.length <= body) {
      fs.writeSync(fd, chunk);
      written += chunk.length;
    }
    fs.writeSync(fd, Buffer.from('#'.repeat(body - written - 1) + '\n'));
    fs.writeSync(fd, Buffer.from(tail));
  } finally {
    fs.closeSync(fd);
  }
}

/** Source files whose text is hostile; every one of them also holds the good sink, which must still be found. */
export function sourceCases(): Record<string, string | Buffer> {
  const latin1 = Buffer.concat([Buffer.from('# -*- coding: latin-1 -*-\n# caf'), Buffer.from([0xe9]), Buffer.from('\n'), Buffer.from(GOOD_SOURCE)]);
  // Valid UTF-8 (é as C3 A9), then a lone Latin-1 byte, then a truncated 3-byte sequence: mixed on one file.
  const mixed = Buffer.concat([
    Buffer.from('s = "caf\u00e9"\n'),
    Buffer.from('t = "na'),
    Buffer.from([0xef, 0x76]),
    Buffer.from('"\nu = "'),
    Buffer.from([0xe2, 0x82]),
    Buffer.from('"\n'),
    Buffer.from(GOOD_SOURCE),
  ]);
  const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(GOOD_SOURCE, 'utf16le')]);
  // UTF-16BE with CRLF breaks (byte-swapped UTF-16LE after FE FF), and UTF-16LE with CR-only breaks and an emoji
  // and CJK text before the sink on its line: decoded, their lines and UTF-16 columns are the UTF-8 file's.
  const utf16be = Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(GOOD_SOURCE.replace(/\n/g, '\r\n'), 'utf16le').swap16()]);
  const utf16CrOnly = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(UTF16_WIDE_SOURCE.replace(/\n/g, '\r'), 'utf16le')]);
  // The same UTF-16 text without its BOM: NUL bytes and nothing that says they are text, so binary.
  const utf16NoBom = Buffer.from(GOOD_SOURCE, 'utf16le');
  const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(GOOD_SOURCE)]);
  // A NUL byte past the binary sniff window (8,000 bytes): the file is text that happens to hold a NUL.
  const lateNul = Buffer.concat([Buffer.from(`# ${'n'.repeat(9000)}\ns = "a`), Buffer.from([0]), Buffer.from('b"\n'), Buffer.from(GOOD_SOURCE)]);
  return {
    'binary/weights.py': pseudoRandomBytes(64 * 1024),
    'binary/bundle.js': Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]), pseudoRandomBytes(4096, 7)]),
    'binary/kernel.cu': Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), pseudoRandomBytes(4096, 11)]),
    'encoding/latin1.py': latin1,
    'encoding/mixed.py': mixed,
    'encoding/utf16.py': utf16,
    'encoding/utf16_be_crlf.py': utf16be,
    'encoding/utf16_cr_only.py': utf16CrOnly,
    'binary/utf16_no_bom.py': utf16NoBom,
    'encoding/bom.py': bom,
    'encoding/crlf.py': `import os\r\n\r\n${GOOD_SOURCE.replace(/\n/g, '\r\n')}`,
    'encoding/cr_only.py': `import os\r\r${GOOD_SOURCE.replace(/\n/g, '\r')}`,
    'nul/late_nul.py': lateNul,
    // A 1 MB line of small tokens (no long identifier-like run): 350,000 nodes on one line.
    'long/wide_line.py': `x = [${'1, '.repeat(350000)}]\n${GOOD_SOURCE}`,
    'deep/parens.py': `x = ${'('.repeat(10000)}1${')'.repeat(10000)}\n${GOOD_SOURCE}`,
    'deep/lists.py': `x = ${'['.repeat(10000)}${']'.repeat(10000)}\n${GOOD_SOURCE}`,
    'deep/calls.py': `def f(v):\n    return eval(${'g('.repeat(10000)}v${')'.repeat(10000)})\n${GOOD_SOURCE}`,
    'deep/blocks.py': `${Array.from({ length: 100 }, (_, i) => `${'    '.repeat(i)}if x:\n`).join('')}${'    '.repeat(100)}pass\n${GOOD_SOURCE}`,
    'deep/unclosed.py': `x = ${'('.repeat(10000)}\n${GOOD_SOURCE}`,
    'halftyped/eval_open.py': `${GOOD_SOURCE}\ndef g(y):\n    eval(`,
    'halftyped/exec_fstring.py': `${GOOD_SOURCE}\ndef h(z):\n    exec(f"{`,
    'halftyped/unterminated.py': `${GOOD_SOURCE}\ns = "never closed\nt = '''also never closed\n`,
    'halftyped/unterminated.js': 'function run(code) { return eval(code); }\nconst s = `never closed ${\n',
  };
}

/**
 * Cases that once broke the engine (see the tests that use them), kept apart from the main corpus so that a
 * regression in one does not hide the behaviour of every other case.
 */
export function knownBugCases(): Record<string, string> {
  return {
    // A 1 MB line: a regular expression in checks/dynamicCode.ts (candidateNames) backtracks quadratically.
    'long/mega_line.py': `x = "${'A'.repeat(1024 * 1024)}"\n${GOOD_SOURCE}`,
    'long/mega_line.js': `const s = "${'B'.repeat(1024 * 1024)}";\nfunction run(code) { return eval(code); }\n`,
    // 10,000 nested arrays: the JavaScript binding walk (checks/javascript.ts) recurses once per level.
    'deep/arrays.js': `const a = ${'['.repeat(10000)}${']'.repeat(10000)};\nfunction run(code) { return eval(code); }\n`,
  };
}

export function notebookCases(): Record<string, string> {
  const code = (source: unknown, extra: object = {}) => ({ cell_type: 'code', metadata: {}, outputs: [], execution_count: null, source, ...extra });
  return {
    'notebooks/not_json.ipynb': '{"cells": [ {"cell_type": "code", "source": ["eval(x)"] ,,, ]',
    'notebooks/truncated.ipynb': '{"cells": [{"cell_type": "code", "source": ["def f(x):\\n", "    eval(x)',
    'notebooks/list_root.ipynb': '[{"cell_type": "code", "source": ["eval(x)"]}]',
    'notebooks/odd_cells.ipynb': JSON.stringify(
      {
        nbformat: 4,
        nbformat_minor: 5,
        metadata: {},
        cells: [
          { cell_type: 'raw', source: ['eval(raw_text)\n'] },
          { cell_type: 'markdown', source: 'eval(markdown_text)' },
          { cell_type: 'hologram', source: ['eval(unknown_kind)\n'] },
          { source: ['eval(no_kind)\n'] },
          42,
          null,
          code(12345),
          code({ text: 'eval(nested)' }),
          code([1, null, 'x = 1\n']),
          { cell_type: 'code' },
          code(['%%bash\n', 'eval "$CMD"\n']),
          code(GOOD_SOURCE.split(/(?<=\n)/)),
        ],
      },
      null,
      1,
    ),
  };
}

/** Builds the whole source corpus under `root` (created if needed) and returns which special files it made. */
export function buildSourceCorpus(root: string, options: { huge?: boolean } = {}): SpecialFiles {
  fs.mkdirSync(root, { recursive: true });
  write(root, 'good/calc.py', GOOD_SOURCE);
  for (const [rel, content] of Object.entries({ ...sourceCases(), ...notebookCases() })) write(root, rel, content);
  if (options.huge ?? true) {
    fs.mkdirSync(path.join(root, 'large'), { recursive: true });
    writeHugePython(path.join(root, 'large', 'huge.py'), HUGE_BYTES);
  }
  // Links: a folder that links to its own parent (a loop), links out of the root, and a dangling link.
  fs.mkdirSync(path.join(root, 'names'), { recursive: true });
  fs.mkdirSync(path.join(root, 'links', 'inner'), { recursive: true });
  write(root, 'links/inner/ok.py', GOOD_SOURCE);
  fs.symlinkSync('..', path.join(root, 'links', 'inner', 'loop'));
  fs.symlinkSync(path.join(root, 'links'), path.join(root, 'links', 'inner', 'again'));
  fs.symlinkSync('missing.py', path.join(root, 'links', 'dangling.py'));
  // .gitignore files that are not regular files, or too large: each would hide the good file next to it if
  // it were read; none is followed, opened or applied (a FIFO or /dev/zero once hung the walk).
  for (const dir of ['fifo', 'devzero', 'loop', 'huge']) write(root, `gitignore/${dir}/calc.py`, GOOD_SOURCE);
  execFileSync('mkfifo', [path.join(root, 'gitignore', 'fifo', '.gitignore')]);
  fs.symlinkSync('/dev/zero', path.join(root, 'gitignore', 'devzero', '.gitignore'));
  fs.symlinkSync('.gitignore', path.join(root, 'gitignore', 'loop', '.gitignore'));
  write(root, 'gitignore/huge/.gitignore', `*\n${'#'.repeat(MAX_GITIGNORE_BYTES)}\n`);
  // A file name that is not valid UTF-8 (0xFF): read by its bytes, reported with the byte escaped.
  fs.writeFileSync(Buffer.concat([Buffer.from(path.join(root, 'names', 'bad')), Buffer.from([0xff]), Buffer.from('name.py')]), GOOD_SOURCE, { flag: 'w' });
  const special: SpecialFiles = { device: false };
  fs.mkdirSync(path.join(root, 'special'), { recursive: true });
  execFileSync('mkfifo', [path.join(root, 'special', 'pipe.py')]);
  try {
    execFileSync('mknod', [path.join(root, 'special', 'null_device.py'), 'c', '1', '3'], { stdio: 'pipe' });
    special.device = true;
  } catch {
    special.device = false;
  }
  return special;
}

/** A folder outside the scanned root that links point to; it holds a sink that must never be reported. */
export function buildOutsideTarget(root: string, outside: string): void {
  write(outside, 'secret/leak.py', GOOD_SOURCE);
  fs.symlinkSync(path.join(outside, 'secret'), path.join(root, 'links', 'outside_dir'));
  fs.symlinkSync(path.join(outside, 'secret', 'leak.py'), path.join(root, 'links', 'outside_file.py'));
  fs.symlinkSync('/etc', path.join(root, 'links', 'etc'));
  // A .gitignore that links to an ignore-everything file outside the root: not followed, so calc.py is scanned.
  write(outside, 'ignore_all', '*\n');
  write(root, 'gitignore/linked_out/calc.py', GOOD_SOURCE);
  fs.symlinkSync(path.join(outside, 'ignore_all'), path.join(root, 'gitignore', 'linked_out', '.gitignore'));
}

export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Removes a temp corpus, restoring permissions first so that chmod 000 leftovers cannot block it. */
export function removeTree(dir: string): void {
  const restore = (p: string): void => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return;
    }
    if (st.isSymbolicLink()) return;
    try {
      fs.chmodSync(p, st.isDirectory() ? 0o755 : 0o644);
    } catch {
      // not ours to fix
    }
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) restore(path.join(p, e));
  };
  restore(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}

// `npx tsx test/hostile/corpus.ts DIR` writes the corpus (DIR/root, with links to DIR/outside) to look at by hand.
if (require.main === module) {
  const dir = path.resolve(process.argv[2] ?? makeTempDir('sentinel-hostile-'));
  const made = buildSourceCorpus(path.join(dir, 'root'));
  buildOutsideTarget(path.join(dir, 'root'), path.join(dir, 'outside'));
  for (const [rel, content] of Object.entries(knownBugCases())) write(path.join(dir, 'known-bugs'), rel, content);
  process.stdout.write(`hostile corpus in ${dir}/root (device file: ${made.device ? 'yes' : 'no, mknod not permitted'}); engine-breaking cases in ${dir}/known-bugs\n`);
}
