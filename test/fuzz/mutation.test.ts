// Property test for robustness: random byte mutations of fixtures (flips, truncations, and insertions of
// brackets, quotes, NUL and invalid UTF-8) must never throw out of the engine, neither from analyzeDocument
// nor from scanPaths, which must turn any trouble into a warning other than internal-error.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import type { LanguageId } from '../../server/src/engine/finding';
import { detectLanguage } from '../../server/src/engine/languages';
import { analyzeDocument, scanPaths } from '../../server/src/engine/scanner';

const REPO = path.join(__dirname, '..', '..');
const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
/** Mutated documents per property in CI; FUZZ_RUNS=N for long runs. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);

function fixtureFiles(): { file: string; lang: LanguageId; bytes: Buffer }[] {
  const out: { file: string; lang: LanguageId; bytes: Buffer }[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) walk(abs);
      else if (e.isFile()) {
        const bytes = fs.readFileSync(abs);
        const lang = detectLanguage(abs, bytes.subarray(0, 64 * 1024).toString('utf8'));
        if (lang) out.push({ file: path.relative(REPO, abs), lang, bytes });
      }
    }
  };
  walk(path.join(REPO, 'fixtures', 'rules'));
  return out.sort((a, b) => (a.file < b.file ? -1 : 1));
}

/** Bytes worth inserting: what opens constructs, NUL, and UTF-8 that is invalid or cut short. */
const NASTY: number[][] = [[0x28], [0x29], [0x22], [0x27], [0x60], [0x7b], [0x5b], [0x00], [0xff], [0xfe], [0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xed, 0xa0, 0x80], [0x0d], [0x0a], [0x5c], [0x23], [0x25]];

type Mutation =
  | { kind: 'flip'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'duplicate'; at: number; length: number };

const position = fc.double({ min: 0, max: 1, noNaN: true });
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: position, value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: position, bytes: fc.oneof(fc.constantFrom(...NASTY), fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 8 })) }),
  fc.record({ kind: fc.constant('delete' as const), at: position, length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({ kind: fc.constant('duplicate' as const), at: position, length: fc.integer({ min: 1, max: 200 }) }),
);

function mutate(original: Buffer, mutations: Mutation[]): Buffer {
  let b = original;
  for (const m of mutations) {
    const at = Math.floor(m.at * (b.length + 1));
    const i = Math.min(at, b.length);
    switch (m.kind) {
      case 'flip':
        if (b.length > 0) {
          b = Buffer.from(b);
          b[Math.min(i, b.length - 1)] = m.value;
        }
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, i), Buffer.from(m.bytes), b.subarray(i)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, i), b.subarray(i + m.length)]);
        break;
      case 'truncate':
        b = b.subarray(0, i);
        break;
      case 'duplicate':
        b = Buffer.concat([b.subarray(0, i + m.length), b.subarray(i)]);
        break;
    }
  }
  return b;
}

describe('fuzz: mutated fixtures never throw out of the engine', function () {
  this.timeout(180_000);
  const fixtures = fixtureFiles();

  it('has fixtures in every language family to mutate', () => {
    const langs = new Set(fixtures.map((f) => f.lang));
    for (const l of ['python', 'javascript', 'typescript', 'tsx', 'cuda', 'shell', 'dockerfile', 'dotenv', 'yaml', 'notebook']) assert.ok(langs.has(l as LanguageId), `no ${l} fixture`);
  });

  it(`analyzeDocument: ${RUNS} mutated documents`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: fixtures.length - 1 }), fc.array(mutationArb, { minLength: 1, maxLength: 6 }), async (n, mutations) => {
        const { file, lang } = fixtures[n];
        const text = mutate(fixtures[n].bytes, mutations).toString('utf8');
        const result = await analyzeDocument(file, text, lang);
        for (const f of result.findings) {
          assert.ok(f.evidence.startOffset >= 0 && f.evidence.endOffset <= text.length && f.evidence.startOffset <= f.evidence.endOffset, `${f.ruleId} span out of the text`);
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  });

  it(`scanPaths: ${Math.ceil(RUNS / 4)} mutated files on disk, no internal-error warning`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-fuzz-'));
    try {
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: fixtures.length - 1 }), fc.array(mutationArb, { minLength: 1, maxLength: 6 }), async (n, mutations) => {
          const target = path.join(dir, path.basename(fixtures[n].file));
          fs.rmSync(dir, { recursive: true, force: true });
          fs.mkdirSync(dir, { recursive: true });
          fs.writeFileSync(target, mutate(fixtures[n].bytes, mutations));
          const report = await scanPaths([dir], { baseDir: dir });
          const internal = report.warnings.filter((w) => w.code === 'internal-error');
          assert.deepEqual(internal, [], `${fixtures[n].file} mutated: ${JSON.stringify(internal)}`);
        }),
        { seed: SEED, numRuns: Math.ceil(RUNS / 4), endOnFailure: true },
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
