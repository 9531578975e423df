// The file walk against hostile .gitignore files and names: a .gitignore never hides a file git tracks (git
// ships it), .gitignore files are read only as small regular files and only from the scan root's own work
// tree, and a name that is not valid UTF-8 is read by its bytes and shown with them escaped.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { scanPaths } from '../../server/src/engine/scanner';
import { escapeName, MAX_GITIGNORE_BYTES, walkRoots, type WalkResult } from '../../server/src/engine/walk';
import { GOOD_SOURCE, makeTempDir, removeTree } from '../hostile/corpus';

function git(cwd: string, ...args: string[]): void {
  execFileSync('git', ['-c', 'user.email=test@example.com', '-c', 'user.name=test', '-c', 'init.defaultBranch=main', ...args], {
    cwd,
    stdio: 'pipe',
    env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
  });
}

function write(root: string, rel: string, content: string | Buffer = GOOD_SOURCE): void {
  const abs = path.join(root, rel);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, content);
}

/** An empty git repository at `<parent>/repo`. */
function newRepo(parent: string): string {
  const repo = path.join(parent, 'repo');
  fs.mkdirSync(repo);
  git(repo, 'init', '-q');
  return repo;
}

/** A path as bytes: text parts as UTF-8, number lists as the raw bytes they list (names that are not UTF-8). */
function bytes(...parts: (string | number[] | Buffer)[]): Buffer {
  return Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
}

/** Walks `root` as the scanner does for Python, paths shown relative to `root`. */
function walk(root: string): WalkResult {
  const display = (abs: string): string => path.relative(root, abs).split(path.sep).join('/') || '.';
  return walkRoots([root], display, (abs) => abs.endsWith('.py'));
}

const walkedOf = (r: WalkResult): string[] => r.files.map((f) => path.basename(path.dirname(f.path)) + '/' + path.basename(f.path)).sort();
const warningsOf = (r: WalkResult): string[] => r.warnings.map((w) => `${w.code} ${w.path}: ${w.message}`);

describe('walk: hostile .gitignore files and names', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.realpathSync(makeTempDir('sentinel-walk-'));
  });
  afterEach(() => removeTree(tmp));

  describe('files git tracks', () => {
    it('scans a committed file that a committed .gitignore lists (one line in a pull request must not hide a sink)', async () => {
      const repo = newRepo(tmp);
      write(repo, 'evil.py', 'def f(x):\n    return eval(x)\n');
      git(repo, 'add', 'evil.py');
      write(repo, '.gitignore', 'evil.py\nscratch.py\n');
      git(repo, 'add', '.gitignore');
      git(repo, 'commit', '-qm', 'x');
      // Untracked and ignored: git ships it nowhere, so the .gitignore still applies to it.
      write(repo, 'scratch.py');
      const report = await scanPaths([repo], { baseDir: repo, rules: ['JIT'] });
      assert.equal(report.filesScanned, 1);
      assert.deepEqual(report.findings.map((f) => `${f.ruleId} ${f.evidence.path}:${f.evidence.startLine}`), ['JIT-EVAL-COMPILE evil.py:2']);
      assert.equal(report.summary.decision, 'blocked');
    });

    it('walks an ignored folder for its tracked files only, also when the scan root is below the .gitignore', () => {
      const repo = newRepo(tmp);
      write(repo, '.gitignore', 'src/gen/\n');
      write(repo, 'src/own.py');
      write(repo, 'src/gen/staged.py');
      // Staged, not committed: in the index, so tracked (it ships with the next commit).
      git(repo, 'add', '-f', '.gitignore', 'src/own.py', 'src/gen/staged.py');
      write(repo, 'src/gen/untracked.py');
      const r = walk(path.join(repo, 'src'));
      assert.deepEqual(walkedOf(r), ['gen/staged.py', 'src/own.py']);
      assert.deepEqual(r.warnings, []);
    });

    it('applies .gitignore files above the root only up to the top of its work tree', () => {
      write(tmp, '.gitignore', '*\n'); // above the repository: git never reads it for this work tree
      const repo = newRepo(tmp);
      write(repo, '.gitignore', 'skip.py\n');
      write(repo, 'pkg/keep.py');
      write(repo, 'pkg/skip.py');
      assert.deepEqual(walkedOf(walk(path.join(repo, 'pkg'))), ['pkg/keep.py']);
    });

    it('applies no .gitignore, with a warning, when git cannot list what it tracks (git not on PATH)', () => {
      const repo = newRepo(tmp);
      write(repo, '.gitignore', 'hidden.py\n');
      write(repo, 'hidden.py');
      const saved = process.env.PATH;
      process.env.PATH = path.join(tmp, 'no-bin');
      let r: WalkResult;
      try {
        r = walk(repo);
      } finally {
        process.env.PATH = saved;
      }
      assert.deepEqual(walkedOf(r), ['repo/hidden.py']);
      assert.deepEqual(warningsOf(r), [
        'unreadable .: git could not list the files it tracks here (git is not installed (no `git` on PATH)); .gitignore patterns were not applied, so ignored files are scanned too',
      ]);
    });

    it('lets an ignored submodule be walked (its files are the submodule\'s, not hidden by the outer .gitignore)', () => {
      const sub = path.join(tmp, 'subsrc');
      fs.mkdirSync(sub);
      git(sub, 'init', '-q');
      write(sub, 'lib.py');
      git(sub, 'add', 'lib.py');
      git(sub, 'commit', '-qm', 'x');
      const repo = newRepo(tmp);
      git(repo, '-c', 'protocol.file.allow=always', 'submodule', '--quiet', 'add', sub, 'vendored');
      write(repo, '.gitignore', 'vendored/\n*.py\n');
      assert.deepEqual(walkedOf(walk(repo)), ['vendored/lib.py']);
    });
  });

  describe('outside a git repository', () => {
    it('applies no .gitignore above the scan root, and those inside it as before', () => {
      write(tmp, '.gitignore', '*\n');
      write(tmp, 'proj/good.py');
      write(tmp, 'proj/sub/.gitignore', 'gone.py\n');
      write(tmp, 'proj/sub/gone.py');
      write(tmp, 'proj/sub/kept.py');
      const r = walk(path.join(tmp, 'proj'));
      assert.deepEqual(walkedOf(r), ['proj/good.py', 'sub/kept.py']);
      assert.deepEqual(r.warnings, []);
    });
  });

  describe('.gitignore files that are not small regular files', () => {
    it('never follows a symlinked .gitignore, even to a file inside the root (git does not either)', () => {
      write(tmp, 'patterns.txt', '*.py\n');
      write(tmp, 'a.py');
      fs.symlinkSync('patterns.txt', path.join(tmp, '.gitignore'));
      const r = walk(tmp);
      assert.deepEqual(walkedOf(r).length, 1);
      assert.deepEqual(warningsOf(r), [
        'not-regular-file .gitignore: .gitignore is a symbolic link; not followed (a .gitignore is read only as a regular file, as git reads it), its patterns were not applied',
      ]);
    });

    it('names a FIFO, /dev/zero, a symlink loop and a folder as .gitignore, and finishes without opening them', () => {
      for (const d of ['fifo', 'zero', 'loop', 'dir']) write(tmp, `${d}/a.py`);
      execFileSync('mkfifo', [path.join(tmp, 'fifo', '.gitignore')]);
      fs.symlinkSync('/dev/zero', path.join(tmp, 'zero', '.gitignore'));
      fs.symlinkSync('.gitignore', path.join(tmp, 'loop', '.gitignore'));
      fs.mkdirSync(path.join(tmp, 'dir', '.gitignore'));
      const r = walk(tmp);
      assert.deepEqual(walkedOf(r), ['dir/a.py', 'fifo/a.py', 'loop/a.py', 'zero/a.py']);
      const link = '.gitignore is a symbolic link; not followed (a .gitignore is read only as a regular file, as git reads it), its patterns were not applied';
      assert.deepEqual(warningsOf(r), [
        'not-regular-file dir/.gitignore: .gitignore is a folder, not a regular file; not opened, its patterns were not applied',
        'not-regular-file fifo/.gitignore: .gitignore is a FIFO (named pipe), not a regular file; not opened, its patterns were not applied',
        `not-regular-file loop/.gitignore: ${link}`,
        `not-regular-file zero/.gitignore: ${link}`,
      ]);
    });

    it(`applies a .gitignore of exactly ${MAX_GITIGNORE_BYTES} bytes, and not one a byte larger (with a warning naming the limit)`, () => {
      const body = (n: number): string => `a.py\n${'#'.repeat(n - 6)}\n`;
      write(tmp, 'at/.gitignore', body(MAX_GITIGNORE_BYTES));
      write(tmp, 'at/a.py');
      write(tmp, 'over/.gitignore', body(MAX_GITIGNORE_BYTES + 1));
      write(tmp, 'over/a.py');
      const r = walk(tmp);
      assert.deepEqual(walkedOf(r), ['over/a.py']);
      assert.deepEqual(warningsOf(r), [
        `too-large over/.gitignore: .gitignore is ${MAX_GITIGNORE_BYTES + 1} bytes, over the ${MAX_GITIGNORE_BYTES}-byte limit; its patterns were not applied`,
      ]);
    });
  });

  describe('names that are not valid UTF-8', () => {
    it('walks and reads them by their bytes, shown with the bad bytes escaped; .gitignore does not hide them', () => {
      write(tmp, 'ok.py');
      fs.writeFileSync(bytes(`${tmp}/bad`, [0xff], 'name.py'), GOOD_SOURCE);
      fs.mkdirSync(bytes(`${tmp}/dir`, [0xc3, 0x28]));
      fs.writeFileSync(bytes(`${tmp}/dir`, [0xc3, 0x28], '/inner.py'), GOOD_SOURCE);
      fs.mkdirSync(bytes(`${tmp}/dir`, [0xc3, 0x28], '/node_modules'));
      fs.writeFileSync(bytes(`${tmp}/dir`, [0xc3, 0x28], '/node_modules/dep.py'), GOOD_SOURCE);
      fs.symlinkSync('ok.py', bytes(`${tmp}/link`, [0xfe], '.py'));
      // A pattern that would match the escaped name: such names are never hidden (the scan errs towards reading).
      write(tmp, '.gitignore', 'bad*\n');
      const r = walk(tmp);
      assert.deepEqual(
        r.files.map((f) => path.relative(tmp, f.path)),
        ['bad\\xffname.py', 'ok.py', 'dir\\xc3(/inner.py'],
      );
      const bad = r.files[0]!;
      assert.deepEqual(bad.rawPath, bytes(fs.realpathSync(tmp), '/bad', [0xff], 'name.py'));
      assert.equal(fs.readFileSync(bad.rawPath!, 'utf8'), GOOD_SOURCE);
      assert.equal(r.files[1]!.rawPath, undefined, 'a UTF-8 path is read as text');
      assert.deepEqual(r.files[2]!.rawPath, bytes(fs.realpathSync(tmp), '/dir', [0xc3, 0x28], '/inner.py'));
      assert.deepEqual(warningsOf(r), ['unreadable link\\xfe.py: is a symlink whose path is not valid UTF-8; not followed']);
    });

    it('scans such a file and says which folders the cache search could not enter, by their escaped names', async () => {
      fs.mkdirSync(bytes(`${tmp}/d`, [0xfe], 'x'));
      fs.writeFileSync(bytes(`${tmp}/d`, [0xfe], 'x/m.py'), GOOD_SOURCE);
      fs.writeFileSync(bytes(`${tmp}/weights`, [0xfc], '.pkl'), 'not a pickle');
      fs.writeFileSync(bytes(`${tmp}/notes`, [0xfc], '.txt'), 'not a source either');
      const report = await scanPaths([tmp], { baseDir: tmp, jobs: 1 });
      assert.deepEqual(
        report.findings.map((f) => `${f.ruleId} ${f.evidence.path}`),
        ['JIT-EVAL-COMPILE d\\xfex/m.py'],
      );
      assert.deepEqual(report.warnings.map((w) => `${w.code} ${w.path}: ${w.message}`).sort(), [
        'unreadable d\\xfex: folder name is not valid UTF-8; not searched for caches',
        'unreadable weights\\xfc.pkl: its name is not valid UTF-8; not checked as a cache artifact',
      ]);
    });

    it('knows such a path by its bytes: an escaped name equal to a real one (with a backslash) hides nothing', () => {
      write(tmp, 'a\\xffb.py');
      fs.writeFileSync(bytes(`${tmp}/a`, [0xff], 'b.py'), GOOD_SOURCE);
      write(tmp, 'd\\xff/ok.py');
      fs.mkdirSync(bytes(`${tmp}/d`, [0xff]));
      fs.writeFileSync(bytes(`${tmp}/d`, [0xff], '/sink.py'), GOOD_SOURCE);
      const r = walk(tmp);
      assert.deepEqual(r.files.map((f) => `${path.relative(tmp, f.path)} ${f.rawPath ? 'bytes' : 'text'}`).sort(), [
        'a\\xffb.py bytes',
        'a\\xffb.py text',
        'd\\xff/ok.py text',
        'd\\xff/sink.py bytes',
      ]);
      assert.deepEqual(warningsOf(r), []);
    });

    it('follows a root link into such a folder; a link inside the root that points into one is named, not followed', () => {
      const raw = bytes(`${tmp}/pr`, [0xff], 'oj');
      fs.mkdirSync(bytes(raw, '/src'), { recursive: true });
      fs.writeFileSync(bytes(raw, '/src/a.py'), GOOD_SOURCE);
      fs.symlinkSync(raw, path.join(tmp, 'link'));
      const viaLink = walk(path.join(tmp, 'link', 'src'));
      assert.deepEqual(viaLink.files.map((f) => path.basename(f.path)), ['a.py']);
      assert.equal(fs.readFileSync(viaLink.files[0]!.rawPath ?? viaLink.files[0]!.realPath, 'utf8'), GOOD_SOURCE);
      assert.deepEqual(viaLink.warnings, []);
      write(tmp, 'inside/ok.py');
      fs.symlinkSync(bytes(raw, '/src/a.py'), path.join(tmp, 'inside', 'run.py'));
      const inside = walk(path.join(tmp, 'inside'));
      assert.deepEqual(inside.files.map((f) => path.basename(f.path)), ['ok.py']);
      assert.deepEqual(warningsOf(inside), ['unreadable run.py: is a symlink into a path that is not valid UTF-8; not followed']);
    });

    it('names a policy in such a folder as not applied, rather than ignoring it in silence', () => {
      const dir = bytes(`${tmp}/svc`, [0xff]);
      fs.mkdirSync(dir);
      fs.writeFileSync(bytes(dir, '/sentinel-policy.yml'), 'fail_on: [MEDIUM]\n');
      fs.writeFileSync(bytes(dir, '/code.py'), GOOD_SOURCE);
      const r = walk(tmp);
      assert.deepEqual(r.files.map((f) => path.relative(tmp, f.path)), ['svc\\xff/code.py']);
      assert.deepEqual(warningsOf(r), ['unreadable svc\\xff/sentinel-policy.yml: is a policy in a folder whose name is not valid UTF-8: it is not applied (the policy above governs these files)']);
    });

    it('escapes only the bytes that are not UTF-8', () => {
      assert.equal(escapeName(Buffer.from('caf\u00e9.py')), 'caf\u00e9.py');
      assert.equal(escapeName(Buffer.from([0x61, 0xff, 0xe2, 0x82, 0x62, 0xf0, 0x9f, 0x98, 0x80])), 'a\\xff\\xe2\\x82b\u{1f600}');
      // An overlong encoding of '/' and a UTF-16 surrogate encoded in UTF-8 are not UTF-8 either.
      assert.equal(escapeName(Buffer.from([0xc0, 0xaf, 0xed, 0xa0, 0x80])), '\\xc0\\xaf\\xed\\xa0\\x80');
    });
  });
});
