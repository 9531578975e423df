// Hostile input: the CLI and the engine on files built to break them (binary, huge, broken encodings, deep
// nesting, half-typed code, vanishing files, symlink loops, FIFOs and devices, bad notebooks, YAML bombs in
// policies, broken rule cards). Each case pins the warning, the exit code and the good findings kept.
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { ScanReport } from '../../server/src/engine/finding';
import { CatalogError, loadCatalog } from '../../server/src/engine/rules/catalog';
import { scanPaths } from '../../server/src/engine/scanner';
import { MAX_GITIGNORE_BYTES } from '../../server/src/engine/walk';
import { ensureBuiltCli, REPO_ROOT, SENTINEL_BIN } from '../helpers/builtCli';
import { sarifErrors } from '../helpers/sarifValidator';
import {
  buildOutsideTarget,
  buildSourceCorpus,
  GOOD_SOURCE,
  HUGE_BYTES,
  knownBugCases,
  makeTempDir,
  removeTree,
  type SpecialFiles,
} from './corpus';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the built CLI out of process, as CI does; a scan that hangs (a FIFO opened) fails on the timeout. */
function sentinel(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, timeout = 120_000): Run {
  const start = Date.now();
  const r = spawnSync(process.execPath, [SENTINEL_BIN, ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`sentinel ${args.join(' ')} did not finish: ${r.error.message}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - start };
}

function warningsOf(report: ScanReport): string[] {
  return report.warnings.map((w) => `${w.code} ${w.path}${w.line ? `:${w.line}` : ''}`).sort();
}

function findingsOf(report: ScanReport): string[] {
  return report.findings.map((f) => `${f.ruleId} ${f.evidence.path}:${f.evidence.startLine}:${f.evidence.startColumn} ${f.decision}`).sort();
}

function messageFor(report: ScanReport, file: string): string {
  const w = report.warnings.filter((x) => x.path === file);
  assert.equal(w.length, 1, `one warning for ${file}, got ${JSON.stringify(w)}`);
  return w[0].message;
}

function assertValidSarif(file: string): void {
  const { errors } = sarifErrors(JSON.parse(fs.readFileSync(file, 'utf8')) as object);
  assert.deepEqual(errors, [], `${file} fails the SARIF validator`);
}

const EVAL = (p: string, line: number, col = 12): string => `JIT-EVAL-COMPILE ${p}:${line}:${col} block`;
const IS_ROOT = process.getuid?.() === 0;

describe('hostile input', function () {
  this.timeout(180_000);
  let tmp: string;
  let root: string;
  let special: SpecialFiles;

  before(() => {
    ensureBuiltCli();
    tmp = makeTempDir('sentinel-hostile-');
    root = path.join(tmp, 'root');
    special = buildSourceCorpus(root);
    buildOutsideTarget(root, path.join(tmp, 'outside'));
  });

  after(() => removeTree(tmp));

  describe('the whole corpus in one CLI run', () => {
    let run: Run;
    let report: ScanReport;
    const sarif = (): string => path.join(tmp, 'reports', 'corpus.sarif');

    before(() => {
      run = sentinel(['sast', '.', '--rule', 'JIT', '--format', 'json', '--report', `sarif=${sarif()}`], root);
      report = JSON.parse(run.stdout) as ScanReport;
    });

    it('finishes (no FIFO or device opened), exits 1 for the good sinks and writes no internal error', () => {
      assert.equal(run.code, 1, run.stderr);
      assert.equal(run.stderr, '');
      assert.ok(!report.warnings.some((w) => w.code === 'internal-error'), JSON.stringify(report.warnings));
      assert.equal(report.summary.decision, 'blocked');
    });

    it('warns once for every hostile file, with the reason', () => {
      assert.deepEqual(warningsOf(report), [
        'bad-notebook notebooks/list_root.ipynb',
        'bad-notebook notebooks/not_json.ipynb',
        'bad-notebook notebooks/truncated.ipynb',
        // .gitignore files that are not regular files or are too large: named, never followed, opened or applied.
        'not-regular-file gitignore/devzero/.gitignore',
        'not-regular-file gitignore/fifo/.gitignore',
        'not-regular-file gitignore/loop/.gitignore',
        'not-regular-file gitignore/linked_out/.gitignore',
        'too-large gitignore/huge/.gitignore',
        'binary binary/bundle.js',
        'binary binary/kernel.cu',
        // UTF-16 without a BOM is NUL bytes and nothing that says they are text; with one it is decoded and scanned.
        'binary binary/utf16_no_bom.py',
        'binary binary/weights.py',
        'not-regular-file special/pipe.py',
        ...(special.device ? ['not-regular-file special/null_device.py'] : []),
        'not-utf8 encoding/latin1.py',
        'not-utf8 encoding/mixed.py',
        'parse-error deep/unclosed.py:1',
        'parse-error halftyped/eval_open.py:5',
        'parse-error halftyped/exec_fstring.py:4',
        'parse-error halftyped/unterminated.js:2',
        'parse-error halftyped/unterminated.py:4',
        'parse-error nul/late_nul.py:2',
        'symlink-loop links/dangling.py',
        'symlink-loop links/inner/again',
        'symlink-loop links/inner/loop',
        'symlink-outside-root links/etc',
        'symlink-outside-root links/outside_dir',
        'symlink-outside-root links/outside_file.py',
        'too-large large/huge.py',
      ].sort());
    });

    it('names the file and the limit for the 50 MB file, and the reason for the others', () => {
      assert.equal(messageFor(report, 'large/huge.py'), `is ${HUGE_BYTES} bytes, over the 5242880-byte limit (--max-file-size); not scanned`);
      assert.equal(messageFor(report, 'binary/weights.py'), 'holds NUL bytes (a binary file with a source extension); not scanned');
      assert.equal(messageFor(report, 'special/pipe.py'), 'is a FIFO, socket or device; not opened');
      assert.equal(messageFor(report, 'encoding/latin1.py'), 'is not valid UTF-8; scanned with invalid bytes replaced, so columns on affected lines may be off');
      assert.equal(messageFor(report, 'notebooks/not_json.ipynb'), 'is not valid notebook JSON (error at line 1)');
      assert.equal(messageFor(report, 'notebooks/list_root.ipynb'), 'has no `cells` list (not an nbformat 3 or 4 notebook)');
      assert.equal(messageFor(report, 'links/inner/loop'), 'is a symlink to links, which this scan already walks (a loop or an alias); not walked again');
      assert.equal(messageFor(report, 'links/dangling.py'), 'symlink cannot be resolved: no such file or directory (ENOENT)');
      const outside = fs.realpathSync(path.join(tmp, 'outside', 'secret'));
      assert.equal(messageFor(report, 'links/outside_dir'), `symlink points outside the scanned root (to ${outside}); not followed`);
      const link = '.gitignore is a symbolic link; not followed (a .gitignore is read only as a regular file, as git reads it), its patterns were not applied';
      assert.equal(messageFor(report, 'gitignore/devzero/.gitignore'), link);
      assert.equal(messageFor(report, 'gitignore/linked_out/.gitignore'), link);
      assert.equal(messageFor(report, 'gitignore/fifo/.gitignore'), '.gitignore is a FIFO (named pipe), not a regular file; not opened, its patterns were not applied');
      assert.equal(messageFor(report, 'gitignore/huge/.gitignore'), `.gitignore is ${MAX_GITIGNORE_BYTES + 3} bytes, over the ${MAX_GITIGNORE_BYTES}-byte limit; its patterns were not applied`);
      assert.equal(messageFor(report, 'halftyped/eval_open.py'), 'has syntax errors (first at line 5); the rest of the file was still checked');
    });

    it('still reports every good sink next to the hostile input, and nothing from outside the root', () => {
      assert.deepEqual(findingsOf(report), [
        EVAL('deep/blocks.py', 103),
        // eval(g(g(...v))) 10,000 calls deep is itself a finding (a parameter through calls).
        EVAL('deep/calls.py', 2),
        EVAL('deep/calls.py', 4),
        EVAL('deep/lists.py', 3),
        EVAL('deep/parens.py', 3),
        EVAL('deep/unclosed.py', 3),
        EVAL('encoding/bom.py', 2),
        EVAL('encoding/cr_only.py', 4),
        EVAL('encoding/crlf.py', 4),
        EVAL('encoding/latin1.py', 4),
        EVAL('encoding/mixed.py', 5),
        EVAL('encoding/utf16.py', 2),
        EVAL('encoding/utf16_be_crlf.py', 2),
        // After an emoji (two code units) and two CJK characters: the column counts UTF-16 code units.
        EVAL('encoding/utf16_cr_only.py', 3, 24),
        EVAL('good/calc.py', 2),
        // Next to each hostile .gitignore: none of them applied, so each calc.py is scanned.
        EVAL('gitignore/devzero/calc.py', 2),
        EVAL('gitignore/fifo/calc.py', 2),
        EVAL('gitignore/huge/calc.py', 2),
        EVAL('gitignore/loop/calc.py', 2),
        EVAL('gitignore/linked_out/calc.py', 2),
        // A half-typed `eval(` or `exec(f"{` has no argument yet: nothing to report there, the good sink stays.
        EVAL('halftyped/eval_open.py', 2),
        EVAL('halftyped/exec_fstring.py', 2),
        EVAL('halftyped/unterminated.js', 1, 29),
        EVAL('halftyped/unterminated.py', 2),
        EVAL('links/inner/ok.py', 2),
        // A name that is not valid UTF-8: read by its bytes, reported with the byte escaped.
        EVAL('names/bad\\xffname.py', 2),
        EVAL('long/wide_line.py', 3),
        // Only the one well-formed code cell; raw, markdown, unknown kinds, non-string sources and %%bash are not Python.
        EVAL('notebooks/odd_cells.ipynb', 76, 17),
        EVAL('nul/late_nul.py', 4),
      ].sort());
      assert.ok(!report.findings.some((f) => f.evidence.path.includes('outside') || f.evidence.path.includes('leak')));
      // Files analysed, bad notebooks included (they were read and found not to be notebooks).
      assert.equal(report.filesScanned, 31);
    });

    it('writes SARIF that passes the SARIF validator with the GitHub rules', () => {
      assertValidSarif(sarif());
    });

    it('prints each warning in the text format with its path, reason and code', () => {
      const text = sentinel(['sast', 'large', 'special', '--rule', 'JIT'], root);
      assert.equal(text.code, 0);
      assert.match(text.stdout, new RegExp(`warning: large/huge\\.py: is ${HUGE_BYTES} bytes, over the 5242880-byte limit \\(--max-file-size\\); not scanned \\[too-large\\]`));
      assert.match(text.stdout, /warning: special\/pipe\.py: is a FIFO, socket or device; not opened \[not-regular-file\]/);
    });
  });

  describe('files named directly', () => {
    it('does not open a FIFO named on the command line, and exits 0', () => {
      const r = sentinel(['sast', 'special/pipe.py', 'good/calc.py', '--rule', 'JIT', '--format', 'json'], root, {}, 30_000);
      const report = JSON.parse(r.stdout) as ScanReport;
      assert.equal(r.code, 1);
      assert.deepEqual(warningsOf(report), ['not-regular-file special/pipe.py']);
      assert.equal(messageFor(report, 'special/pipe.py'), 'is not a regular file or folder; not opened');
      assert.deepEqual(findingsOf(report), [EVAL('good/calc.py', 2)]);
    });

    it('does not open a device or socket with a source extension', async function () {
      // A device needs mknod (root with CAP_MKNOD); elsewhere a Unix socket stands in, and the title says which.
      let target = 'special/null_device.py';
      let server: net.Server | undefined;
      if (!special.device) {
        target = 'special/socket.py';
        server = net.createServer();
        await new Promise<void>((resolve) => server!.listen(path.join(root, target), resolve));
      }
      this.test!.title += ` (${target})`;
      try {
        const r = sentinel(['sast', target, '--rule', 'JIT', '--format', 'json'], root, {}, 30_000);
        const report = JSON.parse(r.stdout) as ScanReport;
        assert.equal(r.code, 0);
        assert.deepEqual(warningsOf(report), [`not-regular-file ${target}`]);
      } finally {
        server?.close();
      }
    });

    it('skips a bad notebook with a warning and exits 0', () => {
      const r = sentinel(['sast', 'notebooks/not_json.ipynb', '--rule', 'JIT', '--format', 'json'], root);
      assert.equal(r.code, 0);
      assert.deepEqual(warningsOf(JSON.parse(r.stdout) as ScanReport), ['bad-notebook notebooks/not_json.ipynb']);
    });
  });

  describe('files that change during the scan', () => {
    let dir: string;
    beforeEach(() => {
      dir = makeTempDir('sentinel-vanish-');
      for (const name of ['a_first.py', 'b_vanishes.py', 'c_last.py']) fs.writeFileSync(path.join(dir, name), GOOD_SOURCE);
      fs.writeFileSync(path.join(tmp, 'outside-target.py'), GOOD_SOURCE);
    });
    afterEach(() => removeTree(dir));

    /** Scans `dir`, doing `mutate` to b_vanishes.py just before the scanner reads it. */
    async function scanWhile(mutate: (file: string) => void): Promise<ScanReport> {
      const victim = path.join(dir, 'b_vanishes.py');
      return scanPaths([dir], {
        rules: ['JIT'],
        baseDir: dir,
        onProgress: (_done, _total, file) => {
          if (file === 'b_vanishes.py') mutate(victim);
        },
      });
    }

    it('warns for a file deleted between the walk and the read, and keeps the others', async () => {
      const report = await scanWhile((f) => fs.rmSync(f));
      assert.deepEqual(warningsOf(report), ['unreadable b_vanishes.py']);
      assert.equal(messageFor(report, 'b_vanishes.py'), 'no such file or directory (ENOENT)');
      assert.deepEqual(findingsOf(report), [EVAL('a_first.py', 2), EVAL('c_last.py', 2)]);
    });

    it('does not open a file replaced by a FIFO during the scan (the scan finishes)', async () => {
      const report = await scanWhile((f) => {
        fs.rmSync(f);
        execFileSync('mkfifo', [f]);
      });
      assert.deepEqual(warningsOf(report), ['not-regular-file b_vanishes.py']);
      assert.equal(messageFor(report, 'b_vanishes.py'), 'is not a regular file; not opened');
      assert.deepEqual(findingsOf(report), [EVAL('a_first.py', 2), EVAL('c_last.py', 2)]);
    });

    it('does not read a file replaced by a folder during the scan', async () => {
      const report = await scanWhile((f) => {
        fs.rmSync(f);
        fs.mkdirSync(f);
      });
      assert.deepEqual(warningsOf(report), ['not-regular-file b_vanishes.py']);
    });

    it(`reads a chmod 000 file only as root can (running as ${IS_ROOT ? 'root: modes do not stop reads' : 'a user: permission denied'})`, async () => {
      const report = await scanWhile((f) => fs.chmodSync(f, 0o000));
      if (IS_ROOT) {
        // Root reads through mode bits: the file is scanned like any other, and that is what root sees.
        assert.deepEqual(warningsOf(report), []);
        assert.deepEqual(findingsOf(report), [EVAL('a_first.py', 2), EVAL('b_vanishes.py', 2), EVAL('c_last.py', 2)]);
      } else {
        assert.deepEqual(warningsOf(report), ['unreadable b_vanishes.py']);
        assert.equal(messageFor(report, 'b_vanishes.py'), 'permission denied (EACCES)');
        assert.deepEqual(findingsOf(report), [EVAL('a_first.py', 2), EVAL('c_last.py', 2)]);
      }
    });

    it(`walks a chmod 000 folder only as root can (running as ${IS_ROOT ? 'root' : 'a user'})`, async () => {
      fs.mkdirSync(path.join(dir, 'locked'));
      fs.writeFileSync(path.join(dir, 'locked', 'inside.py'), GOOD_SOURCE);
      fs.chmodSync(path.join(dir, 'locked'), 0o000);
      const report = await scanPaths([dir], { rules: ['JIT'], baseDir: dir });
      if (IS_ROOT) {
        assert.deepEqual(warningsOf(report), []);
        assert.ok(findingsOf(report).includes(EVAL('locked/inside.py', 2)));
      } else {
        assert.deepEqual(warningsOf(report), ['unreadable locked']);
        assert.equal(messageFor(report, 'locked'), 'folder permission denied (EACCES)');
      }
    });

    it('does not follow a file swapped for a symlink out of the root during the scan', async () => {
      // The scanner opens with O_NOFOLLOW and checks the opened file: the link made after the walk is refused.
      const outsideFile = path.join(tmp, 'outside-target.py');
      const report = await scanWhile((f) => {
        fs.rmSync(f);
        fs.symlinkSync(outsideFile, f);
      });
      assert.deepEqual(findingsOf(report), [EVAL('a_first.py', 2), EVAL('c_last.py', 2)]);
      assert.equal(messageFor(report, 'b_vanishes.py'), 'became a symbolic link during the scan; not followed (ELOOP)');
    });
  });

  describe('policy files', () => {
    let dir: string;
    before(() => {
      dir = makeTempDir('sentinel-policy-');
      fs.writeFileSync(path.join(dir, 'calc.py'), GOOD_SOURCE);
    });
    after(() => removeTree(dir));

    const laughs =
      'category: JIT\nlol0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' +
      Array.from({ length: 9 }, (_, i) => `lol${i + 1}: &a${i + 1} [${Array(9).fill(`*a${i}`).join(',')}]\n`).join('');
    const deepAliases =
      'category: JIT\nallowlist:\n  - &e0 {rule: JIT, path: "a.py", reason: "r"}\n' + Array.from({ length: 200 }, (_, i) => `  - &e${i + 1} [*e${i}]\n`).join('');
    // `line`: the line the CLI names after the file (`file:line: reason`), when the problem has one.
    const CASES: { name: string; body: string | Buffer; line?: number; message: string | RegExp }[] = [
      { name: 'billion-laughs.yml', body: laughs, line: 3, message: 'uses a YAML alias (*name) at line 3, column 12; policy files may not use aliases, write the value out' },
      { name: 'deep-aliases.yml', body: deepAliases, line: 4, message: 'uses a YAML alias (*name) at line 4, column 10; policy files may not use aliases, write the value out' },
      { name: 'empty.yml', body: '', message: 'is empty; write at least `category: JIT` or delete the file' },
      { name: 'comments-only.yml', body: '# nothing here\n', message: 'is empty (it holds only comments); write at least `category: JIT` or delete the file' },
      { name: 'broken.yml', body: 'category: JIT\nfail_on: [HIGH\nallowlist:\n  - rule: *\n', line: 3, message: 'is not valid YAML (line 3, column 1): deficient indentation' },
      { name: 'huge.yml', body: `category: JIT\n${'#'.repeat(2 * 1024 * 1024)}\n`, message: 'is larger than 1 MiB (2097167 bytes); a policy is a few lines of YAML' },
      { name: 'nested.yml', body: `category: ${'['.repeat(10000)}${']'.repeat(10000)}\n`, line: 1, message: 'is not valid YAML (line 1, column 110): nesting exceeded maxDepth (100)' },
      { name: 'binary.yml', body: Buffer.from([0x63, 0x61, 0x74, 0x3a, 0x0a, 0xff, 0xfe, 0x00]), line: 2, message: 'is not UTF-8 text (first bad byte on line 2); save it as UTF-8' },
      // The field list grows with the schema: what matters is that it names the fields and says what it got.
      { name: 'a-list.yml', body: '- just\n- a list\n', line: 1, message: /^must be a mapping of policy fields \(category, fail_on, ticket_on, retest, rules, allowlist[a-z_, ]*\), not a list$/ },
    ];

    for (const c of CASES) {
      it(`rejects ${c.name} given with --policy: exit 2 and the reason, nothing expanded`, () => {
        const file = path.join(dir, c.name);
        fs.writeFileSync(file, c.body);
        const r = sentinel(['sast', 'calc.py', '--rule', 'JIT', '--policy', file], dir, {}, 30_000);
        assert.equal(r.code, 2, r.stderr);
        const at = `sentinel: ${file}${c.line ? `:${c.line}` : ''}: `;
        if (typeof c.message === 'string') assert.equal(r.stderr, `${at}${c.message}\n`);
        else assert.match(r.stderr.slice(at.length, -1), c.message);
        assert.equal(r.stdout, '');
      });
    }

    it('rejects a billion-laughs sentinel-policy.yml found above the scanned file the same way', () => {
      const sub = path.join(dir, 'team');
      fs.mkdirSync(sub, { recursive: true });
      fs.writeFileSync(path.join(sub, 'calc.py'), GOOD_SOURCE);
      fs.writeFileSync(path.join(sub, 'sentinel-policy.yml'), laughs);
      const r = sentinel(['sast', 'team', '--rule', 'JIT'], dir, {}, 30_000);
      assert.equal(r.code, 2);
      assert.equal(r.stderr, `sentinel: ${path.join(sub, 'sentinel-policy.yml')}:3: ${CASES[0].message}\n`);
    });
  });

  describe('rule data', () => {
    let rulesCopy: string;
    let dir: string;
    beforeEach(() => {
      dir = makeTempDir('sentinel-rules-');
      rulesCopy = path.join(dir, 'rules');
      fs.cpSync(path.join(REPO_ROOT, 'rules'), rulesCopy, { recursive: true });
      fs.writeFileSync(path.join(dir, 'calc.py'), GOOD_SOURCE);
    });
    afterEach(() => removeTree(dir));

    function editCard(edit: (text: string) => string): string {
      const file = path.join(rulesCopy, 'JIT-EVAL-COMPILE.yml');
      fs.writeFileSync(file, edit(fs.readFileSync(file, 'utf8')));
      return file;
    }

    it('refuses a rule card with a bad field: CatalogError naming the file and field, CLI exit 2', () => {
      const card = editCard((t) => t.replace(/^severity: HIGH$/m, 'severity: SEVERE'));
      assert.throws(
        () => loadCatalog(rulesCopy),
        (err: unknown) => err instanceof CatalogError && err.file === card && err.field === 'severity',
      );
      const r = sentinel(['sast', 'calc.py', '--rule', 'JIT'], dir, { SENTINEL_RULES_DIR: rulesCopy }, 30_000);
      assert.equal(r.code, 2);
      assert.equal(r.stderr, `sentinel: ${card}: field 'severity': must be one of CRITICAL, HIGH, MEDIUM, LOW, INFO\n`);
    });

    it('refuses a rule card that is not YAML, and one with a missing field', () => {
      const card = editCard((t) => `${t}\nsinks: [unclosed\n`);
      const r = sentinel(['sast', 'calc.py'], dir, { SENTINEL_RULES_DIR: rulesCopy }, 30_000);
      assert.equal(r.code, 2);
      assert.match(r.stderr, new RegExp(`^sentinel: ${card.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: is not valid YAML: `));
      editCard((t) => t.replace(/\nsinks: \[unclosed\n$/, '\n').replace(/^title: .*$/m, ''));
      const missing = sentinel(['sast', 'calc.py'], dir, { SENTINEL_RULES_DIR: rulesCopy }, 30_000);
      assert.equal(missing.code, 2);
      assert.equal(missing.stderr, `sentinel: ${card}: field 'title': is required but missing\n`);
    });

    it('refuses a billion-laughs rule card quickly, without expanding it', () => {
      const bomb =
        'lol0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' +
        Array.from({ length: 9 }, (_, i) => `lol${i + 1}: &a${i + 1} [${Array(9).fill(`*a${i}`).join(',')}]\n`).join('');
      const card = editCard((t) => t + bomb);
      const r = sentinel(['sast', 'calc.py'], dir, { SENTINEL_RULES_DIR: rulesCopy }, 30_000);
      assert.equal(r.code, 2);
      assert.equal(r.stderr, `sentinel: ${card}: field 'lol0': is not a known field\n`);
    });

    it('refuses an empty rules folder', () => {
      for (const f of fs.readdirSync(rulesCopy)) if (f.endsWith('.yml')) fs.rmSync(path.join(rulesCopy, f));
      const r = sentinel(['sast', 'calc.py'], dir, { SENTINEL_RULES_DIR: rulesCopy }, 30_000);
      assert.equal(r.code, 2);
      assert.equal(r.stderr, `sentinel: ${rulesCopy}: holds no rule cards (*.yml)\n`);
    });
  });

  describe('engine limits found by this suite (fixed; kept as regressions)', () => {
    let dir: string;
    before(() => {
      dir = makeTempDir('sentinel-known-');
      for (const [rel, content] of Object.entries(knownBugCases())) {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        fs.writeFileSync(path.join(dir, rel), content);
      }
    });
    after(() => removeTree(dir));

    it('scans a file with a 1 MB line (candidateNames once backtracked quadratically on it)', () => {
      const r = sentinel(['sast', 'long', '--rule', 'JIT', '--format', 'json'], dir, {}, 60_000);
      assert.equal(r.code, 1);
      assert.deepEqual(findingsOf(JSON.parse(r.stdout) as ScanReport), [EVAL('long/mega_line.js', 2, 29), EVAL('long/mega_line.py', 3)]);
    });

    it('keeps the good sink in a JavaScript file with 10,000 nested arrays (the binding walk once overflowed the stack)', () => {
      const r = sentinel(['sast', 'deep/arrays.js', '--rule', 'JIT', '--format', 'json'], dir, {}, 60_000);
      const report = JSON.parse(r.stdout) as ScanReport;
      assert.deepEqual(warningsOf(report), []);
      assert.deepEqual(findingsOf(report), [EVAL('deep/arrays.js', 2, 29)]);
    });
  });
});
