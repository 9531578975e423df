// Shared helpers for the end-to-end tests: the extension's API, polling with a deadline, and screenshots
// requested from the driver (test/e2e/run.mjs watches the extension host log for the marker line).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { SentinelApi } from '../../client/src/extension';

export const EXTENSION_ID = 'eresus-security.sentinel';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function sentinelApi(): Promise<SentinelApi> {
  const ext = vscode.extensions.getExtension<SentinelApi>(EXTENSION_ID);
  if (!ext) throw new Error(`${EXTENSION_ID} is not installed`);
  return ext.isActive ? ext.exports : ext.activate();
}

/** Polls `probe` until it returns a value (not undefined), or fails naming `what`. */
export async function waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 30000): Promise<T> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await sleep(200)) {
    const value = probe();
    if (value !== undefined) return value;
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * Asks the driver for a screenshot of the workbench as <E2E_SCREENSHOT_DIR>/<name>.png and waits until the
 * file exists. Does nothing when the tests run without the driver's screenshot directory.
 */
export async function screenshot(name: string, timeoutMs = 15000): Promise<string | undefined> {
  const dir = process.env.E2E_SCREENSHOT_DIR;
  if (!dir) return undefined;
  const file = path.join(dir, `${name}.png`);
  fs.rmSync(file, { force: true });
  console.log(`E2E_SCREENSHOT ${name}`);
  return waitFor(() => (fs.existsSync(file) ? file : undefined), `screenshot ${file}`, timeoutMs);
}
