// ESLint flat config for the benchmark's ESLint peer (passed with --config; deliberately not named
// eslint.config.mjs, which ESLint would pick up for bench/ when the project lints itself). Only the
// dynamic-code rules run: eslint-plugin-security's detect-eval-with-expression and core no-eval,
// no-new-func and no-implied-eval. The plugin is loaded from the bench tool folder.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const tools = process.env.BENCH_TOOLS_DIR ? path.resolve(process.env.BENCH_TOOLS_DIR) : path.join(repo, '.bench-tools');
const security = createRequire(path.join(tools, 'package.json'))('eslint-plugin-security');

/** Hosts' globals through which no-implied-eval and no-eval find setTimeout("...") and window.eval(...). */
const hostGlobals = Object.fromEntries(
  ['window', 'self', 'global', 'setTimeout', 'setInterval', 'setImmediate', 'execScript', 'require', 'module', 'exports', 'process'].map((g) => [g, 'readonly']),
);

const rules = {
  'security/detect-eval-with-expression': 'warn',
  'no-eval': 'warn',
  'no-new-func': 'warn',
  'no-implied-eval': 'warn',
};

export default [
  // The staged corpus is split by module type, as Node would load each file.
  {
    files: ['**/esm/**/*.js', '**/esm/**/*.mjs', '**/esm/**/*.cjs'],
    languageOptions: { ecmaVersion: 'latest', sourceType: 'module', globals: hostGlobals },
  },
  {
    files: ['**/cjs/**/*.js', '**/cjs/**/*.mjs', '**/cjs/**/*.cjs'],
    languageOptions: { ecmaVersion: 'latest', sourceType: 'commonjs', globals: hostGlobals },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    plugins: { security },
    linterOptions: { reportUnusedDisableDirectives: 'off', noInlineConfig: true },
    rules,
  },
];
