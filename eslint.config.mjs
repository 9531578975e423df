// Lint rules for Sentinel. The one architectural rule: the engine never imports the editor protocol, so
// the CLI and the language server share it whole.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.e2e/**', 'fixtures/**', 'bench-results/**', '**/*.d.ts'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-console': 'error',
    },
  },
  {
    files: ['server/src/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['vscode-languageserver*', 'vscode-languageclient*', 'vscode', 'vscode-jsonrpc*'], message: 'The engine knows nothing of LSP: convert in server/src/lsp/.' },
            { group: ['**/lsp/**', '**/cli/**', '**/client/**'], message: 'The engine is imported by the faces, never the reverse.' },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
