// First end-to-end test, run inside a real VS Code extension host by test/e2e/run.mjs: the Sentinel
// extension is installed, activates without error and hands out its API.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { EXTENSION_ID, screenshot, sleep } from './support';

/** What this test relies on from the API that client/src/extension.ts returns from activate(). */
interface SmokeApi {
  getStatus(): unknown;
  statusText?(): string;
}

describe('Sentinel extension (smoke)', () => {
  let extension: vscode.Extension<SmokeApi> | undefined;

  it('is installed', () => {
    console.log(`VS Code ${vscode.version}, Node ${process.version}, ${vscode.extensions.all.length} extensions`);
    extension = vscode.extensions.all.find((e) => e.id.toLowerCase() === EXTENSION_ID) as vscode.Extension<SmokeApi> | undefined;
    assert.ok(extension, `${EXTENSION_ID} is not among the installed extensions`);
    console.log(`${extension.id} ${extension.packageJSON.version} from ${extension.extensionPath}`);
  });

  it('activates and exports getStatus()', async () => {
    assert.ok(extension, 'the extension was not found');
    const api = await extension.activate();
    assert.ok(extension.isActive, 'isActive after activate()');
    assert.ok(api, 'activate() returned no API');
    assert.equal(typeof api.getStatus, 'function', 'api.getStatus is a function');
    console.log(`getStatus() = ${JSON.stringify(api.getStatus())}`);
    if (typeof api.statusText === 'function') console.log(`statusText() = ${api.statusText()}`);
  });

  it('shows the workbench with a workspace file open', async () => {
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'a workspace folder is open');
    const files = await vscode.workspace.findFiles('**/*.py');
    files.sort((a, b) => a.path.localeCompare(b.path));
    if (files[0]) await vscode.window.showTextDocument(files[0]);
    await sleep(1000); // let the editor and the extension's diagnostics paint
    const shot = await screenshot('smoke-workbench');
    if (shot) console.log(`screenshot: ${shot}`);
  });
});
