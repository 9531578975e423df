// Property test for the language server's live loop: random edit sequences applied to fixture documents
// through SyntaxDocument (tree.edit + reparse from the old tree) must give the tree and the findings a full
// parse of the same text gives. Fixed seed; FUZZ_RUNS=N for long runs (N sequences per fixture).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import type { LanguageId } from '../../server/src/engine/finding';
import { SyntaxDocument } from '../../server/src/engine/incremental';
import { parseText } from '../../server/src/engine/parser';
import { withLoneCrAsLf } from '../../server/src/engine/lines';
import { analyzeDocument } from '../../server/src/engine/scanner';

const REPO = path.join(__dirname, '..', '..');
/** Fixed in CI; FUZZ_SEED=N explores other sequences on a long run (a failure prints the seed and path to replay). */
const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
/** Sequences per fixture: 7 fixtures × 150 = 1,050 sequences of up to 12 edits in CI. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);

const FIXTURES: { file: string; lang: LanguageId }[] = [
  { file: 'fixtures/rules/JIT-EVAL-COMPILE/fastapi_filter_endpoint.py', lang: 'python' },
  { file: 'fixtures/rules/JIT-DYNAMIC-KERNEL/cupy_kernels_from_config.py', lang: 'python' },
  { file: 'fixtures/rules/JIT-EVAL-COMPILE/express-formula-endpoint.js', lang: 'javascript' },
  { file: 'fixtures/rules/JIT-EVAL-COMPILE/langchain-js-tool.ts', lang: 'typescript' },
  { file: 'fixtures/rules/JIT-EVAL-COMPILE/FormulaCell.tsx', lang: 'tsx' },
  { file: 'fixtures/rules/JIT-DYNAMIC-KERNEL/kernel_templates.cuh', lang: 'cuda' },
  { file: 'fixtures/rules/JIT-CACHE-POISONING/run_training.sh', lang: 'shell' },
];

/** Pieces an editor types or pastes: brackets and quotes that open and close constructs, line breaks of every kind, sinks, non-ASCII. */
const PIECES = ['(', ')', '"', "'", '"""', '`', '${', '{', '}', '[', ']', '\n', '\r\n', '\r', '    ', '\t', '#', '//', '/*', '*/', '\\', 'eval(', 'exec(f"{', 'x', 'code', ' = ', ',', ':', ';', 'def f(a):\n    return eval(a)\n', 'import os\n', '😀', '中文'];

interface EditSpec {
  /** Where (a fraction of the current length, so the edit lands inside whatever the text has become). */
  at: number;
  /** How many UTF-16 units to delete after `at` (clamped to the end). */
  remove: number;
  insert: string;
  /** Parse after this edit (the server parses at arbitrary points between bursts of changes). */
  parse: boolean;
}

const editArb: fc.Arbitrary<EditSpec> = fc.record({
  at: fc.double({ min: 0, max: 1, noNaN: true }),
  remove: fc.oneof(fc.constant(0), fc.nat({ max: 4 }), fc.nat({ max: 80 })),
  insert: fc.oneof(fc.constant(''), fc.array(fc.constantFrom(...PIECES), { maxLength: 4 }).map((a) => a.join('')), fc.string({ maxLength: 6 })),
  parse: fc.boolean(),
});

/** Keeps offsets off the middle of a surrogate pair: an LSP client never splits a character, and positions.ts clamps. */
function charBoundary(text: string, offset: number): number {
  const o = Math.max(0, Math.min(offset, text.length));
  const code = text.charCodeAt(o);
  return o > 0 && o < text.length && code >= 0xdc00 && code <= 0xdfff ? o - 1 : o;
}

async function freshSexp(lang: LanguageId, text: string): Promise<string> {
  const tree = await parseText(lang, text);
  try {
    return tree.rootNode.toString();
  } finally {
    tree.delete();
  }
}

describe('fuzz: incremental parsing equals a full parse', function () {
  this.timeout(120_000);

  for (const { file, lang } of FIXTURES) {
    it(`${path.basename(file)} (${lang}): ${RUNS} random edit sequences`, async () => {
      const original = fs.readFileSync(path.join(REPO, file), 'utf8');
      await fc.assert(
        fc.asyncProperty(fc.array(editArb, { minLength: 1, maxLength: 12 }), async (edits) => {
          const doc = new SyntaxDocument(lang, original);
          try {
            await doc.syntaxTree();
            let text = original;
            for (const e of edits) {
              const start = charBoundary(text, Math.floor(e.at * (text.length + 1)));
              const end = charBoundary(text, Math.min(text.length, start + e.remove));
              doc.applyChange(start, end, e.insert);
              text = text.slice(0, start) + e.insert + text.slice(end);
              if (e.parse) await doc.syntaxTree();
            }
            assert.equal(doc.content, text);
            const tree = await doc.syntaxTree();
            assert.ok(tree, 'a grammar language has a tree');
            // The document parses lone CRs as LFs (the same length), as the CLI reads them.
            assert.equal(tree.rootNode.toString(), await freshSexp(lang, withLoneCrAsLf(text)), 'incremental tree differs from a full parse');
            const incremental = await analyzeDocument('fuzz', text, lang, { tree });
            const full = await analyzeDocument('fuzz', text, lang);
            assert.deepEqual(incremental, full, 'findings from the incremental tree differ from a full parse');
          } finally {
            doc.dispose();
          }
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      );
    });
  }
});
