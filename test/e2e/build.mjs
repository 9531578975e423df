// Builds the end-to-end tests into out/e2e/: index.js (the mocha runner the extension host loads as
// extensionTestsPath, with mocha bundled in) and one <name>.test.js per test/e2e/<name>.test.ts. CommonJS for
// Node, `vscode` left external (the extension host provides it). mocha is bundled because the runner must
// also work when the extension under test comes from an installed .vsix, with no node_modules beside it.
// Usage: node test/e2e/build.mjs
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const outdir = path.join(root, 'out', 'e2e');

const tests = fs.readdirSync(here).filter((f) => f.endsWith('.test.ts')).sort();
if (tests.length === 0) {
  console.error(`e2e build: no *.test.ts in ${path.relative(root, here)}`);
  process.exit(1);
}

// Start clean: index.js loads every *.test.js it finds beside it, so a deleted test must not linger.
fs.rmSync(outdir, { recursive: true, force: true });

/**
 * mocha's parallel mode (worker processes that re-require mocha from its own folder) cannot work from a
 * bundle, and the runner never turns it on: replace it by a module that says so, which also keeps workerpool
 * out of index.js.
 */
const noParallelMocha = {
  name: 'no-parallel-mocha',
  setup(build) {
    build.onResolve({ filter: /\/parallel-buffered-runner$/ }, () => ({ path: 'parallel-buffered-runner', namespace: 'stub' }));
    build.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
      contents: "throw new Error('mocha parallel mode is not available in the bundled e2e runner');",
      loader: 'js',
    }));
  },
};

await esbuild.build({
  absWorkingDir: root,
  entryPoints: ['index.ts', ...tests].map((f) => path.join(here, f)),
  outdir,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  external: ['vscode'],
  plugins: [noParallelMocha],
  logLevel: 'warning',
});
console.log(`e2e build: ${path.relative(root, outdir)}/ index.js + ${tests.map((t) => t.replace(/\.ts$/, '.js')).join(', ')}`);
