// Tests for checkCacheLoading on its own: against every annotated fixture (it must hit each `expect:` of the
// cache-loading fixtures and report nothing that no `expect:` names), and the wording, confidence and trace.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCacheKinds } from '../../server/src/engine/cacheTrees';
import { checkCacheLoading } from '../../server/src/engine/checks/cacheLoading';
import type { RawFinding } from '../../server/src/engine/checks/context';
import type { LanguageId } from '../../server/src/engine/finding';
import { detectLanguage } from '../../server/src/engine/languages';
import { LineIndex } from '../../server/src/engine/lines';
import { notebookProgram } from '../../server/src/engine/notebook';
import { hasGrammar, parseText } from '../../server/src/engine/parser';
import { loadCatalog, type RuleCard } from '../../server/src/engine/rules/catalog';
import { annotationsIn } from '../helpers/annotations';

const REPO = path.resolve(__dirname, '..', '..');
const FIXTURES = path.join(REPO, 'fixtures');
const catalog = loadCatalog();
const RULE = loadCacheKinds(catalog.dir, catalog).rule;
/** Compiled GPU modules loaded from a path that is not fixed: reported by this check under their own rule. */
const MODULE_RULE = loadCacheKinds(catalog.dir, catalog).moduleLoading?.rule;
const ALL = new Map(catalog.rules.map((r) => [r.id, r]));
/** The fixtures written for this check: every `expect:` of the rule in them must come from it. */
const OWN = ['remote_cache_settings.py', 'cache-loading.sh', 'remote-cache.yml', 'warm-cache-workflow.yml', 'warm-cache.Dockerfile', 'remote-cache.env'].map((f) =>
  path.join(FIXTURES, 'rules', RULE, f),
);

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]))
    .sort();
}

interface Found extends RawFinding {
  /** `L<line>` for files, `C<cell>:<line>` for notebooks, as the annotations count them. */
  where: string;
}

async function check(text: string, lang: LanguageId, enabled: Map<string, RuleCard> = ALL): Promise<Found[]> {
  const program = lang === 'notebook' ? notebookProgram(text) : undefined;
  const source = program ? program.text : text;
  const tree = hasGrammar(lang) ? await parseText(lang, source) : undefined;
  const raws: RawFinding[] = [];
  try {
    await checkCacheLoading({ lang, text: source, tree, catalog, enabled, emit: (r) => raws.push(r) });
  } finally {
    tree?.delete();
  }
  const index = new LineIndex(source);
  return raws.map((r) => {
    const line = index.position(r.startOffset).line;
    const cell = program?.lines[line - 1];
    return { ...r, where: cell ? `C${cell.cell}:${cell.cellLine}` : `L${line}` };
  });
}

async function checkFile(file: string): Promise<Found[]> {
  const text = fs.readFileSync(file, 'utf8');
  const lang = detectLanguage(file, text.slice(0, 4096));
  return lang ? check(text, lang) : [];
}

async function checkSnippet(text: string, lang: LanguageId): Promise<Found[]> {
  return check(text, lang);
}

describe('checkCacheLoading', () => {
  it('reports every expect: of the cache-loading fixtures, and only on expect: lines across all fixtures', async () => {
    const missed: string[] = [];
    const extra: string[] = [];
    let hits = 0;
    for (const file of [...filesUnder(path.join(FIXTURES, 'rules')), ...filesUnder(path.join(FIXTURES, 'demo'))]) {
      const rel = path.relative(REPO, file);
      const ann = annotationsIn(fs.readFileSync(file, 'utf8'), rel);
      const key = (a: { line: number; cell?: number }): string => (a.cell === undefined ? `L${a.line}` : `C${a.cell}:${a.line}`);
      const expects = new Set(ann.expects.filter((a) => a.rule === RULE).map(key));
      const moduleExpects = new Set(ann.expects.filter((a) => a.rule === MODULE_RULE).map(key));
      const found = await checkFile(file);
      for (const f of found) {
        assert.ok(f.ruleId === RULE || f.ruleId === MODULE_RULE, f.ruleId);
        if (!(f.ruleId === RULE ? expects : moduleExpects).has(f.where)) extra.push(`${rel} ${f.where}: ${f.ruleId} ${f.signal}`);
      }
      if (OWN.includes(file)) {
        const where = new Set(found.map((f) => f.where));
        for (const e of expects) {
          if (where.has(e)) hits++;
          else missed.push(`${rel} ${e}`);
        }
      }
    }
    assert.deepEqual({ missed, extra }, { missed: [], extra: [] });
    assert.ok(hits >= 30, `only ${hits} expect: cases in the cache-loading fixtures`);
  });

  it('holds hard negatives: at least one ok: case for every two expect: cases in its own fixtures', () => {
    let expects = 0;
    let oks = 0;
    for (const file of OWN) {
      const ann = annotationsIn(fs.readFileSync(file, 'utf8'), file);
      expects += ann.expects.filter((a) => a.rule === RULE).length;
      oks += ann.oks.filter((a) => a.rule === RULE).length;
    }
    assert.ok(oks * 2 >= expects, `${oks} ok: against ${expects} expect:`);
  });

  it('raises the confidence for downloaded, request-borne and shared-path artifacts, with a trace from a source', async () => {
    const found = await checkFile(OWN[0]!);
    const at = (needle: string): Found => {
      const text = fs.readFileSync(OWN[0]!, 'utf8');
      const line = text.split('\n').findIndex((l) => l.includes(needle)) + 1;
      const f = found.find((x) => x.where === `L${line}`);
      assert.ok(f, `no finding at ${needle}`);
      return f;
    };
    const registry = at('torch.compiler.load_cache_artifacts(blob)');
    assert.deepEqual([registry.confidence, registry.api], ['high', 'torch.compiler.load_cache_artifacts']);
    assert.match(registry.signal, /downloaded by `requests\.get\(\)`/);
    const upload = at('request.files["artifacts"]');
    assert.equal(upload.confidence, 'high');
    assert.deepEqual(upload.trace?.map((s) => s.kind), ['source']);
    assert.match(upload.signal, /HTTP request data read by `flask\.request\.files/);
    // A file opened from a parameter: high when the source model knows file reads (with the trace), else medium.
    const warm = at('torch.compiler.load_cache_artifacts(f.read())');
    assert.equal(warm.confidence, warm.trace?.length ? 'high' : 'medium');
    assert.match(at('serialized_artifacts=shared').signal, /a file under \/tmp, which other users can write/);
    const host = at('request.args["cache_host"]');
    assert.deepEqual([host.confidence, host.api, host.variable], ['high', 'TORCHINDUCTOR_REDIS_HOST', undefined]);
    assert.ok((host.trace?.length ?? 0) >= 1);
    const switched = at('"TORCHINDUCTOR_FX_GRAPH_REMOTE_CACHE"] = "1"');
    assert.deepEqual([switched.confidence, switched.api, switched.value], ['medium', 'TORCHINDUCTOR_FX_GRAPH_REMOTE_CACHE', '1']);
    assert.equal(at('path=os.path.expanduser("~/.triton/cache")').confidence, 'high');
    assert.equal(at('tar.extractall(cache_dir)').confidence, 'medium');
  });

  it('judges hosts and URLs: loopback and credentials are fine, other hosts and bare URLs are not', async () => {
    const cases: [string, boolean][] = [
      ['TORCHINDUCTOR_REDIS_HOST=localhost', false],
      ['TORCHINDUCTOR_REDIS_HOST=127.0.0.2', false],
      ['TORCHINDUCTOR_REDIS_HOST=::1', false],
      ['TORCHINDUCTOR_REDIS_HOST=cache.internal', true],
      ['TORCHINDUCTOR_REDIS_HOST=$REDIS_HOST', true],
      ['TORCHINDUCTOR_REDIS_URL=redis://localhost:6379/0', false],
      ['TORCHINDUCTOR_REDIS_URL=redis://user:pw@cache.internal:6379', false],
      ['TORCHINDUCTOR_REDIS_URL=redis://cache.internal:6379', true],
      ['TORCHINDUCTOR_FX_GRAPH_REMOTE_CACHE=true', true],
      ['TORCHINDUCTOR_FX_GRAPH_REMOTE_CACHE=', false],
      ['TRITON_CACHE_MANAGER=', false],
      ['TRITON_CACHE_MANAGER=triton.runtime.cache:FileCacheManager', false],
      ['TRITON_CACHE_MANAGER=mypkg.cache:Manager', true],
      ['TORCHINDUCTOR_REDIS_PORT=6380', false],
    ];
    for (const [line, fires] of cases) {
      const found = await checkSnippet(`${line}\n`, 'dotenv');
      assert.equal(found.length, fires ? 1 : 0, `${line}: ${found.map((f) => f.signal).join('; ')}`);
    }
  });

  it('reads tar and unzip the way they read their flags', async () => {
    const cases: [string, boolean][] = [
      ['tar -xf c.tar -C "$TORCHINDUCTOR_CACHE_DIR"', true],
      ['tar --extract --file c.tar --directory "${NUMBA_CACHE_DIR}"', true],
      ['tar xf c.tar -C ~/.triton/cache', true],
      ['tar -cf c.tar -C ~/.triton/cache .', false],
      ['tar -xf c.tar -C ./build', false],
      ['unzip c.zip -d /root/.cache/torch_extensions/py311_cu121', true],
      ['unzip c.zip', false],
      ['wget -qO- https://x/c.tgz | tar -xz -C "$CUPY_CACHE_DIR"', true],
    ];
    for (const [line, fires] of cases) {
      const found = await checkSnippet(`${line}\n`, 'shell');
      assert.equal(found.length, fires ? 1 : 0, `${line}: ${found.map((f) => f.signal).join('; ')}`);
    }
    const piped = await checkSnippet('wget -qO- https://x/c.tgz | tar -xz -C "$CUPY_CACHE_DIR"\n', 'shell');
    assert.deepEqual([piped[0]?.confidence, piped[0]?.api, piped[0]?.startOffset], ['high', 'tar', 'wget -qO- https://x/c.tgz | '.length]);
  });

  it('reports two settings in one ENV instruction or one environ.update() as two places', async () => {
    const env = 'ENV TORCHINDUCTOR_FX_GRAPH_REMOTE_CACHE=1 \\\n    TORCHINDUCTOR_REDIS_HOST=redis.internal\n';
    const docker = await checkSnippet(env, 'dockerfile');
    assert.deepEqual(
      docker.map((f) => [f.api, env.slice(f.startOffset, f.endOffset), f.nodeType]),
      [
        ['TORCHINDUCTOR_FX_GRAPH_REMOTE_CACHE', 'TORCHINDUCTOR_FX_GRAPH_REMOTE_CACHE=1', 'env_pair'],
        ['TORCHINDUCTOR_REDIS_HOST', 'TORCHINDUCTOR_REDIS_HOST=redis.internal', 'env_pair'],
      ],
    );
    const py = 'import os\nos.environ.update({"TORCHINDUCTOR_FX_GRAPH_REMOTE_CACHE": "1", "TRITON_CACHE_MANAGER": "x.y:Z"})\n';
    const python = await checkSnippet(py, 'python');
    assert.deepEqual(python.map((f) => py.slice(f.startOffset, f.endOffset)), ['"TORCHINDUCTOR_FX_GRAPH_REMOTE_CACHE": "1"', '"TRITON_CACHE_MANAGER": "x.y:Z"']);
  });

  it('names the rule from rules/cache-kinds.yml and stays silent when that rule is not enabled', async () => {
    const others = new Map([...ALL].filter(([id]) => id !== RULE));
    const text = 'export TORCHINDUCTOR_FX_GRAPH_REMOTE_CACHE=1\n';
    assert.equal((await check(text, 'shell', others)).length, 0);
    assert.deepEqual((await check(text, 'shell')).map((f) => [f.ruleId, f.nodeType, f.startOffset, f.endOffset]), [[RULE, 'declaration_command', 0, text.length - 1]]);
  });
});
