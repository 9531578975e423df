// Builds Sentinel into dist/: the CLI, the language server and the VS Code client as self-contained CommonJS
// bundles, with the grammars' .wasm files and the rule catalog copied beside them, so that dist/ runs with
// no node_modules. `node esbuild.mjs --watch` rebuilds on change.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.dirname(new URL(import.meta.url).pathname);
const dist = path.join(root, 'dist');
const watch = process.argv.includes('--watch');
// --production: minified, no source maps (the .vsix); the default keeps maps for debugging and tests.
const production = process.argv.includes('--production');

/** Grammar files shipped in dist/grammars, with the package each comes from (recorded in dist/grammars/SOURCES.json). */
const GRAMMARS = [
  ['web-tree-sitter', 'web-tree-sitter.wasm'],
  ['tree-sitter-python', 'tree-sitter-python.wasm'],
  ['tree-sitter-javascript', 'tree-sitter-javascript.wasm'],
  ['tree-sitter-typescript', 'tree-sitter-typescript.wasm'],
  ['tree-sitter-typescript', 'tree-sitter-tsx.wasm'],
  ['tree-sitter-cuda', 'tree-sitter-cuda.wasm'],
  ['tree-sitter-bash', 'tree-sitter-bash.wasm'],
  ['@tree-sitter-grammars/tree-sitter-yaml', 'tree-sitter-yaml.wasm'],
];

function copyAssets() {
  const grammarDir = path.join(dist, 'grammars');
  fs.mkdirSync(grammarDir, { recursive: true });
  const sources = {};
  for (const [pkg, file] of GRAMMARS) {
    // Not require.resolve: web-tree-sitter's `exports` hide its package.json.
    const pkgDir = path.join(root, 'node_modules', pkg);
    const pkgJson = path.join(pkgDir, 'package.json');
    fs.copyFileSync(path.join(pkgDir, file), path.join(grammarDir, file));
    sources[file] = { package: pkg, version: JSON.parse(fs.readFileSync(pkgJson, 'utf8')).version };
  }
  fs.writeFileSync(path.join(grammarDir, 'SOURCES.json'), `${JSON.stringify(sources, null, 2)}\n`);
  fs.rmSync(path.join(dist, 'rules'), { recursive: true, force: true });
  fs.cpSync(path.join(root, 'rules'), path.join(dist, 'rules'), { recursive: true });
}

const entryPoints = {
  cli: 'server/src/cli/main.ts',
  // The analysis worker that cli.js and server.js start beside themselves (engine/pool.ts).
  worker: 'server/src/engine/worker.ts',
};
for (const [name, file] of [['server', 'server/src/lsp/standalone.ts'], ['extension', 'client/src/extension.ts']]) {
  if (fs.existsSync(path.join(root, file))) entryPoints[name] = file;
}

// web-tree-sitter resolves its own files from import.meta.url, which a CommonJS bundle lacks.
const moduleUrl = {
  define: { 'import.meta.url': '__sentinelModuleUrl' },
  banner: { js: "var __sentinelModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
};

/**
 * The shipped schemas compiled to code (server/src/engine/validation.ts explains why): schemaCode.ts, bundled in
 * memory and run here, writes the module that becomes dist/validators.js.
 */
async function precompiledValidators() {
  // Bundled to a file of its own in a fresh temporary folder and loaded from there: our own code, built a moment ago.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-build-'));
  try {
    const outfile = path.join(tmp, 'schemaCode.cjs');
    await esbuild.build({
      absWorkingDir: root,
      entryPoints: ['server/src/engine/schemaCode.ts'],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      logLevel: 'warning',
      ...moduleUrl,
    });
    return createRequire(outfile)(outfile).precompiledValidatorsModule(path.join(root, 'rules'));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** dist/validators.js: the generated validators with the Ajv runtime helpers they require. */
async function buildValidators() {
  await esbuild.build({
    absWorkingDir: root,
    stdin: { contents: await precompiledValidators(), resolveDir: root, sourcefile: 'validators.js', loader: 'js' },
    outfile: path.join(dist, 'validators.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: production,
    logLevel: 'warning',
  });
}

const options = {
  absWorkingDir: root,
  entryPoints,
  outdir: dist,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  external: ['vscode'],
  // jsonc-parser's UMD build requires its parts dynamically; its ESM build bundles cleanly.
  mainFields: ['module', 'main'],
  ...moduleUrl,
  logLevel: 'warning',
};

fs.mkdirSync(dist, { recursive: true });
// A production build must not leave maps from an earlier development build inside the package.
if (production) for (const f of fs.readdirSync(dist)) if (f.endsWith('.map')) fs.rmSync(path.join(dist, f));
copyAssets();
await buildValidators();
if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
