// Builds Sentinel into dist/: the CLI, the language server and the VS Code client as self-contained CommonJS
// bundles, with the grammars' .wasm files and the rule catalog copied beside them, so that dist/ runs with
// no node_modules. `node esbuild.mjs --watch` rebuilds on change.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
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
  const built = await esbuild.build({
    absWorkingDir: root,
    entryPoints: ['server/src/engine/schemaCode.ts'],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    write: false,
    logLevel: 'warning',
    ...moduleUrl,
  });
  const mod = { exports: {} };
  const filename = path.join(root, 'server', 'src', 'engine', 'schemaCode.js');
  new Function('module', 'exports', 'require', '__filename', '__dirname', built.outputFiles[0].text)(mod, mod.exports, createRequire(filename), filename, path.dirname(filename));
  return mod.exports.precompiledValidatorsModule(path.join(root, 'rules'));
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
