// The scan's pre-filter never skips a file a rule could fire on: every fixture with an `expect:` passes it,
// scans with and without it report the same, and rule data it does not understand turns it off.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { detectLanguage } from '../../server/src/engine/languages';
import { prefilterFor, requiredWord } from '../../server/src/engine/prefilter';
import { type Catalog, loadCatalog } from '../../server/src/engine/rules/catalog';
import { scanPaths } from '../../server/src/engine/scanner';
import { annotationsIn } from '../helpers/annotations';

const REPO = path.resolve(__dirname, '..', '..');
const FIXTURES = path.join(REPO, 'fixtures');

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : e.isFile() ? [path.join(dir, e.name)] : []))
    .sort();
}

/** The fixture folders the rule suites scan (cache fixtures are written at test time, not stored). */
const FIXTURE_DIRS = ['rules', 'demo', 'codeactions', 'policy'].map((d) => path.join(FIXTURES, d)).filter((d) => fs.existsSync(d));

describe('pre-filter', () => {
  it('understands all of the shipped rule data, so it is not switched off', () => {
    const filter = prefilterFor(loadCatalog());
    assert.equal(filter.open, undefined, filter.open);
    for (const name of ['eval', 'exec', 'compile', 'RawKernel', 'createShaderModule', 'nvrtcCreateProgram', 'TRITON_CACHE_DIR', 'load_cache_artifacts', 'TORCHINDUCTOR_FX_GRAPH_REMOTE_CACHE']) {
      assert.ok(filter.words.includes(name), `${name} is not searched for`);
    }
  });

  it('lets through every fixture file that holds an expect: case', () => {
    const filter = prefilterFor(loadCatalog());
    let checked = 0;
    const skipped: string[] = [];
    for (const dir of FIXTURE_DIRS) {
      for (const file of filesUnder(dir)) {
        const text = fs.readFileSync(file, 'utf8');
        const lang = detectLanguage(file, text.slice(0, 64 * 1024));
        if (!lang) continue;
        const rel = path.relative(REPO, file);
        if (annotationsIn(text, rel).expects.length === 0) continue;
        checked++;
        if (!filter.mayFire(text, lang)) skipped.push(rel);
      }
    }
    assert.ok(checked >= 30, `only ${checked} fixture files with expect: cases were found`);
    assert.deepEqual(skipped, []);
  });

  it('changes no finding or warning of the fixture scans, except the parse warnings of files it skips', async () => {
    for (const dir of FIXTURE_DIRS) {
      const on = await scanPaths([dir], { jobs: 1 });
      const off = await scanPaths([dir], { jobs: 1, prefilter: false });
      assert.deepEqual(on.findings, off.findings, dir);
      assert.equal(on.filesScanned, off.filesScanned);
      const kept = (r: typeof on) => r.warnings.filter((w) => w.code !== 'parse-error');
      assert.deepEqual(kept(on), kept(off), dir);
    }
  });

  it('skips files with none of the names, and keeps a file whose only hint is an alias, a marker or a cache variable', () => {
    const filter = prefilterFor(loadCatalog());
    assert.equal(filter.mayFire('import os\n\ndef add(a, b):\n    return a + b\n', 'python'), false);
    assert.equal(filter.mayFire('const total = items.reduce((a, b) => a + b, 0);\n', 'javascript'), false);
    assert.equal(filter.mayFire('evaluation = retrieval_exec_count\n', 'python'), false, 'names inside longer words are not names');
    assert.equal(filter.mayFire('from builtins import eval as run\nrun(code)\n', 'python'), true);
    assert.equal(filter.mayFire('k = cp.RawKernel(src, "k")\n', 'python'), true);
    assert.equal(filter.mayFire('export TRITON_CACHE_DIR=/tmp/triton\n', 'shell'), true);
    assert.equal(filter.mayFire('RUN tar -xzf k.tgz -C $HOME/.triton/cache\n', 'dockerfile'), true);
    assert.equal(filter.mayFire('src = "@triton.jit"\n', 'python'), true);
    assert.equal(filter.mayFire('{"cells": []}', 'notebook'), true, 'notebooks are decoded and analysed whole');
  });

  it('finds the word every match of a cache-folder pattern must hold', () => {
    assert.equal(requiredWord('(^|/)\\.triton/cache(/|$)'), 'triton');
    assert.equal(requiredWord('(^|/)torchinductor_[^/]*(/|$)'), 'torchinductor_');
    assert.equal(requiredWord('(^|/)\\.nv/ComputeCache(/|$)'), 'ComputeCache');
    assert.equal(requiredWord('cachex?dir'), 'cache');
    assert.equal(requiredWord('a|b'), undefined);
    assert.equal(requiredWord('(triton|numba)_cache'), '_cache');
    assert.equal(requiredWord('.*'), undefined);
  });

  it('lets every file through when a rule card holds a field it does not know', () => {
    const base = loadCatalog();
    const rules = base.rules.map((r, i) => (i === 0 ? { ...r, permissionCalls: ['os.chmod'] } : r));
    const catalog: Catalog = { ...base, rules, byId: new Map(rules.map((r) => [r.id, r])) };
    const filter = prefilterFor(catalog);
    assert.match(filter.open ?? '', /permissionCalls/);
    assert.equal(filter.mayFire('x = 1\n', 'python'), true);
  });
});
