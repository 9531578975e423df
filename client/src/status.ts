// The release gate in the status bar: `Sentinel: blocked 2 HIGH`, `Sentinel: tickets 1` or `Sentinel: clean`,
// with the gating findings and the retest command in the tooltip; a click lists the gating findings.
import * as vscode from 'vscode';
import { CLIENT_COMMANDS, STATUS_BAR_ITEM } from '../../shared/src/ids';
import type { PolicyStatus } from '../../shared/src/protocol';


/** The status bar text for a policy status (also what the extension's API returns, for tests). */
export function statusText(status: PolicyStatus | undefined): string {
  if (!status) return 'Sentinel: starting';
  if (status.policyError) return `Sentinel: policy error`;
  if (status.decision === 'blocked') {
    const parts = (['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFO'] as const)
      .map((s) => ({ s, n: status.findings.filter((f) => f.decision === 'block' && f.severity === s).length }))
      .filter((x) => x.n > 0)
      .map((x) => `${x.n} ${x.s}`);
    return `Sentinel: blocked ${parts.join(', ')}`;
  }
  if (status.decision === 'tickets') return `Sentinel: tickets ${status.tickets}`;
  return 'Sentinel: clean';
}

export function tooltipFor(status: PolicyStatus | undefined): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  if (!status) return md.appendMarkdown('Sentinel is starting…');
  if (status.policyError) md.appendMarkdown(`**Policy error:** ${status.policyError}\n\nThe built-in policy applies until it is fixed.\n\n`);
  md.appendMarkdown(`**Release gate: ${status.decision}** — ${status.blocking} blocking, ${status.tickets} ticket, ${status.suppressed} suppressed\n\n`);
  for (const f of status.findings.slice(0, 12)) {
    const file = vscode.workspace.asRelativePath(vscode.Uri.parse(f.uri));
    md.appendMarkdown(`- ${f.decision === 'block' ? '⛔' : '🎫'} \`${f.ruleId}\` ${f.severity} — ${file}:${f.line + 1}\n`);
  }
  if (status.findings.length > 12) md.appendMarkdown(`- … and ${status.findings.length - 12} more\n`);
  md.appendMarkdown(`\nRetest: \`${status.retest}\``);
  return md;
}

export class GateStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(STATUS_BAR_ITEM, vscode.StatusBarAlignment.Left, 50);
  status: PolicyStatus | undefined;

  constructor() {
    this.item.name = 'Sentinel release gate';
    this.item.command = CLIENT_COMMANDS.showGatingFindings;
    this.update(undefined);
    this.item.show();
  }

  update(status: PolicyStatus | undefined): void {
    this.status = status;
    this.item.text = `$(shield) ${statusText(status)}`;
    this.item.tooltip = tooltipFor(status);
    this.item.backgroundColor =
      status?.decision === 'blocked' || status?.policyError
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : status?.decision === 'tickets'
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
  }

  get text(): string {
    return statusText(this.status);
  }

  dispose(): void {
    this.item.dispose();
  }
}

/** Quick pick of the gating findings; choosing one reveals it. */
export async function showGatingFindings(status: PolicyStatus | undefined): Promise<void> {
  if (!status || status.findings.length === 0) {
    void vscode.window.showInformationMessage(`Sentinel: nothing gates the release. Retest with \`${status?.retest ?? 'sentinel sast'}\`.`);
    return;
  }
  const picked = await vscode.window.showQuickPick(
    status.findings.map((f) => ({
      label: `${f.decision === 'block' ? '$(error)' : '$(warning)'} ${f.ruleId} ${f.severity}`,
      description: `${vscode.workspace.asRelativePath(vscode.Uri.parse(f.uri))}:${f.line + 1}`,
      detail: f.title,
      finding: f,
    })),
    { title: `Sentinel release gate: ${status.decision}`, placeHolder: 'Jump to a gating finding' },
  );
  if (!picked) return;
  const pos = new vscode.Position(picked.finding.line, picked.finding.character);
  await vscode.window.showTextDocument(vscode.Uri.parse(picked.finding.uri), { selection: new vscode.Range(pos, pos) });
}
