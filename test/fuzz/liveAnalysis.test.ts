// Property test for the language server's reuse of raw findings (engine/liveAnalysis.ts): random edits,
// most of them inside comments and docstrings (where the findings are reused, only moved), some anywhere,
// applied to fixture documents; after every analysis the result must equal a full analysis of the same
// text. Fixed seed; FUZZ_RUNS=N for long runs (N sequences per fixture).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import type { Node } from 'web-tree-sitter';
import type { LanguageId } from '../../server/src/engine/finding';
import { SyntaxDocument } from '../../server/src/engine/incremental';
import { LiveAnalysis } from '../../server/src/engine/liveAnalysis';
import { loadCatalog } from '../../server/src/engine/rules/catalog';
import { analyzeDocument, enabledRules } from '../../server/src/engine/scanner';

const REPO = path.join(__dirname, '..', '..');
const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
/** Sequences per fixture: 6 fixtures × 60 sequences of up to 10 edits in CI. */
const RUNS = Math.max(1, Math.floor(Number(process.env.FUZZ_RUNS ?? 150) / 2.5));

const FIXTURES: { file: string; lang: LanguageId }[] = [
  { file: 'fixtures/rules/JIT-EVAL-COMPILE/fastapi_filter_endpoint.py', lang: 'python' },
  { file: 'fixtures/rules/JIT-DYNAMIC-KERNEL/cupy_kernels_from_config.py', lang: 'python' },
  { file: 'fixtures/rules/JIT-CACHE-POISONING/cache_dirs_permissions.py', lang: 'python' },
  { file: 'fixtures/rules/JIT-EVAL-COMPILE/express-formula-endpoint.js', lang: 'javascript' },
  { file: 'fixtures/rules/JIT-EVAL-COMPILE/langchain-js-tool.ts', lang: 'typescript' },
  { file: 'fixtures/rules/JIT-DYNAMIC-KERNEL/kernel_templates.cuh', lang: 'cuda' },
];

/**
 * What gets typed: prose, names the rule data knows (a sink, a cache variable, a JIT tool whose mention turns
 * a cleared umask into a finding), and characters that end or open a comment or a string.
 */
const PIECES = ['x', 'See ticket 42. ', ' ', 'eval', 'exec(', 'triton', 'TRITON_CACHE_DIR', 'numba', 'sentinel: allow JIT-EVAL-COMPILE -- reviewed', '"', "'", '"""', '`', '${', '{', '\n', '#', '//', '/*', '*/', '\\', '😀'];

interface EditSpec {
  /** Inside a comment or docstring (true) or anywhere (false). */
  trivia: boolean;
  /** Which one (a fraction of the count) and where in it (a fraction of its length). */
  pick: number;
  at: number;
  remove: number;
  insert: string;
  /** Analyse after this edit (the server analyses at arbitrary points between bursts of changes). */
  analyse: boolean;
}

const editArb: fc.Arbitrary<EditSpec> = fc.record({
  trivia: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  pick: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
  at: fc.double({ min: 0, max: 1, noNaN: true }),
  remove: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat({ max: 6 }) }),
  insert: fc.oneof(fc.constantFrom(...PIECES), fc.array(fc.constantFrom(...PIECES), { maxLength: 3 }).map((a) => a.join(''))),
  analyse: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
});

/** Comments and bare strings of the tree, as [start, end) ranges. */
function triviaRanges(root: Node): [number, number][] {
  const out: [number, number][] = [];
  for (const n of root.descendantsOfType(['comment', 'string'])) {
    if (!n) continue;
    if (n.type === 'string' && n.parent?.type !== 'expression_statement') continue;
    out.push([n.startIndex, n.endIndex]);
  }
  return out;
}

function charBoundary(text: string, offset: number): number {
  const o = Math.max(0, Math.min(offset, text.length));
  const code = text.charCodeAt(o);
  return o > 0 && o < text.length && code >= 0xdc00 && code <= 0xdfff ? o - 1 : o;
}

describe('fuzz: reused findings after comment and docstring edits equal a full analysis', function () {
  this.timeout(180_000);
  const catalog = loadCatalog();
  const enabled = enabledRules(catalog, []);
  const reusedTotal = { reused: 0, checked: 0 };

  for (const { file, lang } of FIXTURES) {
    it(`${path.basename(file)} (${lang}): ${RUNS} random edit sequences`, async () => {
      const original = fs.readFileSync(path.join(REPO, file), 'utf8');
      let reused = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(editArb, { minLength: 1, maxLength: 10 }), async (edits) => {
          const doc = new SyntaxDocument(lang, original);
          const live = new LiveAnalysis();
          try {
            await live.analyze('fuzz', doc, catalog, enabled);
            for (const e of edits) {
              const text = doc.content;
              let start: number;
              let end: number;
              const ranges = e.trivia ? triviaRanges((await doc.syntaxTree())!.rootNode) : [];
              if (ranges.length > 0) {
                const [from, to] = ranges[Math.floor(e.pick * ranges.length)];
                // After the opening `#`, `//` or quote (an edit before it is not inside): fast-check's doubles favour 0.
                start = charBoundary(text, Math.min(to, from + 1 + Math.floor(e.at * (to - from - 1))));
                end = Math.max(start, charBoundary(text, Math.min(to, start + e.remove)));
              } else {
                start = charBoundary(text, Math.floor(e.at * (text.length + 1)));
                end = charBoundary(text, Math.min(text.length, start + e.remove));
              }
              doc.applyChange(start, end, e.insert);
              if (!e.analyse) continue;
              const got = await live.analyze('fuzz', doc, catalog, enabled);
              if (live.mode === 'reused') reused++;
              reusedTotal[live.mode!]++;
              const full = await analyzeDocument('fuzz', doc.content, lang, { catalog, enabled });
              assert.deepEqual(got, full, `${live.mode} analysis differs from a full one after inserting ${JSON.stringify(e.insert)} at ${start}`);
            }
          } finally {
            doc.dispose();
          }
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true, ...(process.env.FUZZ_PATH ? { path: process.env.FUZZ_PATH } : {}) },
      );
      // The property must exercise the reuse, not only the fallback.
      assert.ok(reused >= RUNS / 4, `only ${reused} analyses reused findings in ${RUNS} sequences`);
    });
  }

  after(() => {
    assert.ok(reusedTotal.reused > 0 && reusedTotal.checked > 0, JSON.stringify(reusedTotal));
  });
});
