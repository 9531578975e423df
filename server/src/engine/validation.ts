// Where and how the data's schemas are checked.
//
// Where: the rule cards, models and cache kinds are validated when the scan (or the language server) loads them
// on the main thread, before any worker is sent a catalog or a file (workers may already be starting: scanPaths
// warms them first, then validates, then sends the catalog). A worker reads the same files again and would only
// check them again, for an answer already known. So workers skip that step; the main thread never does.
//
// How: every schema goes through `compileSchema`. Compiling a schema with Ajv at run time cost the CLI ~150 ms of
// start-up, before the first file could be sent to a worker. So the build (esbuild.mjs, with schemaCode.ts)
// compiles the shipped schemas once into plain functions, keyed by a hash of the schema and of how it is used,
// into dist/validators.js beside the bundles; the main thread loads it on the first schema it checks (workers,
// which check none, never do). A schema whose hash has no such function (rule data edited after the build, a
// test's own schema, or a run from the sources, where there is no validators.js) is compiled by Ajv as before:
// the answer is the same either way, only its cost differs.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import type { default as Ajv, Options, ValidateFunction } from 'ajv';

/** The file of precompiled validators, beside the running bundle. */
export const PRECOMPILED_FILE = 'validators.js';

export const CHECKS_SHIPPED_SCHEMAS = isMainThread;

/**
 * How a schema is used: rule data and models report every error (`all-errors`), cache kinds the first
 * (`first-error`), and the policy the first, strictly, with its editor annotations kept as keywords (`policy`).
 */
export type SchemaUse = 'all-errors' | 'first-error' | 'policy';

/** An Ajv instance set up for `use` (`extra`: the build's `code.source`). */
export function ajvFor(use: SchemaUse, extra: Options = {}): Ajv {
  // Ajv itself is loaded on first use: the CLI with the build's validators, and every worker, never need it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Ajv = (require('ajv') as typeof import('ajv')).default;
  // `validateSchema: false`: the shipped schemas are checked against the meta-schema by a test (catalog.test.ts),
  // not at every start, where compiling the meta-schema per Ajv instance cost ~180 ms.
  if (use !== 'policy') return new Ajv({ allErrors: use === 'all-errors', strict: false, validateSchema: false, ...extra });
  // strictRequired is off because `anyOf: [{required: [path]}, ...]` names properties declared one level up.
  const ajv = new Ajv({ allErrors: false, strict: true, strictRequired: false, verbose: true, validateSchema: false, ...extra });
  // Editor annotations (VS Code / yaml-language-server); the CLI reuses them as its error messages.
  ajv.addVocabulary(['patternErrorMessage', 'errorMessage', 'markdownDescription']);
  return ajv;
}

/** The key of a compiled schema: what it is used for and its exact content. */
export function schemaKey(schema: object, use: SchemaUse): string {
  return createHash('sha256').update(use).update('\0').update(JSON.stringify(schema)).digest('hex').slice(0, 32);
}

const compiled = new Map<string, ValidateFunction>();
/** Every key asked for in this process, in order, once per request (a test checks that the build covers them all). */
const requested: string[] = [];
let runtimeCompiles = 0;
let precompiled: Readonly<Record<string, ValidateFunction>> | undefined;

/** The build's validators by key: dist/validators.js, or none when it is not beside this code. */
function precompiledTable(): Readonly<Record<string, ValidateFunction>> {
  if (!precompiled) {
    const file = path.join(__dirname, PRECOMPILED_FILE);
    precompiled = {};
    // Only a regular file: requiring a FIFO put there would wait forever.
    if (fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
      try {
        // Our own build output, next to the bundle that is running (never a scanned file), loaded only when needed.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        precompiled = (require(file) as { PRECOMPILED?: Record<string, ValidateFunction> }).PRECOMPILED ?? {};
      } catch {
        // A damaged validators.js costs only time: every schema is then compiled by Ajv, with the same answers.
      }
    }
  }
  return precompiled;
}

/** The validator of `schema` for `use`: the build's, when it compiled this very schema, else Ajv's, once per process. */
export function compileSchema(schema: object, use: SchemaUse): ValidateFunction {
  const key = schemaKey(schema, use);
  requested.push(key);
  let validate = compiled.get(key) ?? precompiledTable()[key];
  if (!validate) {
    validate = ajvFor(use).compile(schema);
    runtimeCompiles++;
  }
  compiled.set(key, validate);
  return validate;
}

/** What this process asked `compileSchema` for: the keys (one per request), and how many it compiled with Ajv rather than took from the build. */
export function schemaUse(): { keys: string[]; compiledAtRuntime: number } {
  return { keys: [...requested], compiledAtRuntime: runtimeCompiles };
}
