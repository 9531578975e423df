// The same end-to-end tests in a desktop VS Code downloaded by @vscode/test-electron, for machines that can
// download it (this project's CI cannot: it uses test/e2e/run.mjs with code-server instead).
// Usage: npm run test:electron   (after node esbuild.mjs && node test/e2e/build.mjs)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTests } from '@vscode/test-electron';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tests = path.join(root, 'out', 'e2e', 'index.js');
if (!fs.existsSync(tests)) {
  console.error(`test:electron: ${tests} is missing; run node test/e2e/build.mjs first`);
  process.exit(1);
}
// The tests edit files: give them a copy of the demo workspace.
const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-electron-'));
fs.cpSync(path.join(root, 'fixtures', 'demo'), path.join(workspace, 'demo'), { recursive: true });
try {
  await runTests({
    extensionDevelopmentPath: root,
    extensionTestsPath: tests,
    launchArgs: [path.join(workspace, 'demo'), '--disable-extensions', '--disable-workspace-trust'],
  });
} catch (err) {
  console.error(`test:electron: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  fs.rmSync(workspace, { recursive: true, force: true });
}
