// Keeps the shape of the code true: the engine imports nothing of LSP (checked through the real ESLint
// rule, so the lint cannot silently stop covering it), and rule IDs live in rules/, not in engine code.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ESLint } from 'eslint';

const root = path.join(__dirname, '..', '..');

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('architecture', () => {
  it('rejects an LSP import inside the engine through the lint rule', async () => {
    const eslint = new ESLint({ cwd: root });
    const [result] = await eslint.lintText("import { createConnection } from 'vscode-languageserver/node';\nexport const c = createConnection;\n", {
      filePath: path.join(root, 'server/src/engine/probe.ts'),
    });
    assert.ok(result.messages.some((m) => m.ruleId === 'no-restricted-imports'), JSON.stringify(result.messages));
  }).timeout(60000);

  it('names no rule ID in the checks: which rule a sink or variable belongs to is catalog data', () => {
    const offenders = [...filesUnder(path.join(root, 'server/src/engine/checks')), path.join(root, 'server/src/engine/scanner.ts')].filter((f) => /JIT-[A-Z]+-[A-Z]+/.test(fs.readFileSync(f, 'utf8').replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '')));
    assert.deepEqual(offenders, []);
  });
});
