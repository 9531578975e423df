// Where the policy file for a document is (or would be created), for the "Add to policy allowlist" action.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToUri } from './documents';
import type { Workspace } from './workspace';

export function policyLocationFor(ws: Workspace, fsPath: string | undefined): { uri: string; exists: boolean; text?: string; relativePath: string } {
  const root = fsPath ? ws.rootFor(fsPath) : (ws.roots[0] ?? process.cwd());
  const { policy } = ws.policyFor(root);
  const file = policy.path ?? path.join(root, 'sentinel-policy.yml');
  const exists = fs.existsSync(file);
  let text: string | undefined;
  if (exists) {
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      text = undefined;
    }
  }
  const relativePath = fsPath ? path.relative(path.dirname(file), fsPath).split(path.sep).join('/') : '';
  return { uri: pathToUri(file), exists, text, relativePath };
}
