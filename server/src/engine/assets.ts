// Finds the files Sentinel ships beside its code (rule catalog, grammar .wasm files), both when running
// from the esbuild bundle in dist/ and when running from TypeScript sources in tests.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Walks up from this module to the first folder that holds `relative`; the bundle and the repo differ in depth. */
function findUp(relative: string): string | undefined {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, relative);
    if (fs.existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

export function rulesDir(): string {
  // Look for the schema, not the folder name: server/src/engine/rules/ holds the loader code.
  const schema = findUp(path.join('rules', 'rule.schema.json'));
  const dir = process.env.SENTINEL_RULES_DIR ?? (schema ? path.dirname(schema) : undefined);
  if (!dir) throw new Error(`Sentinel's rule catalog (rules/) was not found near ${__dirname}`);
  return dir;
}

/** Grammar files by name: in dist/grammars when bundled, else in node_modules. */
const GRAMMAR_PACKAGES: Record<string, string> = {
  'tree-sitter-python.wasm': 'tree-sitter-python',
  'tree-sitter-javascript.wasm': 'tree-sitter-javascript',
  'tree-sitter-typescript.wasm': 'tree-sitter-typescript',
  'tree-sitter-tsx.wasm': 'tree-sitter-typescript',
  'tree-sitter-cuda.wasm': 'tree-sitter-cuda',
  'tree-sitter-bash.wasm': 'tree-sitter-bash',
  'tree-sitter-yaml.wasm': '@tree-sitter-grammars/tree-sitter-yaml',
  'web-tree-sitter.wasm': 'web-tree-sitter',
};

export function grammarPath(file: string): string {
  const bundled = findUp(path.join('grammars', file));
  if (bundled) return bundled;
  const pkg = GRAMMAR_PACKAGES[file];
  if (!pkg) throw new Error(`unknown grammar file ${file}`);
  const fromModules = findUp(path.join('node_modules', pkg, file));
  if (fromModules) return fromModules;
  throw new Error(`grammar ${file} not found (looked in grammars/ and node_modules/${pkg})`);
}

export { GRAMMAR_PACKAGES };
