// The Sentinel view: the retest command on top, then findings grouped by release decision (Gate, Ticket,
// Suppressed) and by rule; each finding item reveals its location.
import * as vscode from 'vscode';
import type { PolicyStatus } from '../../shared/src/protocol';

type Node =
  | { kind: 'retest'; command: string }
  | { kind: 'group'; label: 'Gate' | 'Ticket' | 'Suppressed'; items: FindingItem[] }
  | { kind: 'rule'; group: string; ruleId: string; items: FindingItem[] }
  | { kind: 'finding'; item: FindingItem };

interface FindingItem {
  ruleId: string;
  severity: string;
  title: string;
  uri: vscode.Uri;
  range: vscode.Range;
  note?: string;
}

function suppressedFindings(): FindingItem[] {
  const out: FindingItem[] = [];
  for (const [uri, diagnostics] of vscode.languages.getDiagnostics()) {
    for (const d of diagnostics) {
      const data = (d as vscode.Diagnostic & { data?: { suppressed?: boolean } }).data;
      if (d.source !== 'sentinel' || !data?.suppressed) continue;
      const code = typeof d.code === 'object' ? String(d.code.value) : String(d.code);
      out.push({ ruleId: code, severity: 'suppressed', title: d.message, uri, range: d.range, note: d.message.replace(/^Suppressed \(([^)]*)\): ([^.]*)\..*$/s, '$2 ($1)') });
    }
  }
  return out;
}

export class FindingsView implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private status: PolicyStatus | undefined;

  update(status: PolicyStatus | undefined): void {
    this.status = status;
    this.changed.fire(undefined);
  }

  private pending: NodeJS.Timeout | undefined;

  /** Diagnostics change in bursts while typing or scanning: redraw once the burst is over. */
  refresh(): void {
    if (this.pending) clearTimeout(this.pending);
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.changed.fire(undefined);
    }, 250);
  }

  /** The tree as labels, depth first (what the view shows; for tests and the extension's API). */
  outline(node?: Node, depth = 0): string[] {
    return this.getChildren(node).flatMap((child) => {
      const item = this.getTreeItem(child);
      const label = typeof item.label === 'string' ? item.label : (item.label?.label ?? '');
      return [`${'  '.repeat(depth)}${label}`, ...this.outline(child, depth + 1)];
    });
  }

  getChildren(node?: Node): Node[] {
    if (!node) {
      const status = this.status;
      const toItem = (f: PolicyStatus['findings'][number]): FindingItem => ({
        ruleId: f.ruleId,
        severity: f.severity,
        title: f.title,
        uri: vscode.Uri.parse(f.uri),
        range: new vscode.Range(f.line, f.character, f.line, f.character),
      });
      const gate = (status?.findings ?? []).filter((f) => f.decision === 'block').map(toItem);
      const ticket = (status?.findings ?? []).filter((f) => f.decision === 'ticket').map(toItem);
      return [
        { kind: 'retest', command: status?.retest ?? 'sentinel sast ./src/ --rule JIT' },
        { kind: 'group', label: 'Gate', items: gate },
        { kind: 'group', label: 'Ticket', items: ticket },
        { kind: 'group', label: 'Suppressed', items: suppressedFindings() },
      ];
    }
    if (node.kind === 'group') {
      const rules = [...new Set(node.items.map((i) => i.ruleId))].sort();
      return rules.map((ruleId) => ({ kind: 'rule', group: node.label, ruleId, items: node.items.filter((i) => i.ruleId === ruleId) }));
    }
    if (node.kind === 'rule') return node.items.map((item) => ({ kind: 'finding', item }));
    return [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    switch (node.kind) {
      case 'retest': {
        const t = new vscode.TreeItem(`Retest: ${node.command}`, vscode.TreeItemCollapsibleState.None);
        // Stable ids let VS Code keep expansion and selection across refreshes whose counts change the labels.
        t.id = 'retest';
        t.iconPath = new vscode.ThemeIcon('debug-rerun');
        t.tooltip = 'Run the retest command in a terminal (the same scan CI runs)';
        t.command = { command: 'sentinel.retest', title: 'Retest' };
        return t;
      }
      case 'group': {
        const t = new vscode.TreeItem(`${node.label} (${node.items.length})`, node.items.length ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
        t.id = `group:${node.label}`;
        t.iconPath = new vscode.ThemeIcon(node.label === 'Gate' ? 'error' : node.label === 'Ticket' ? 'warning' : 'pass');
        t.contextValue = `sentinel.group.${node.label.toLowerCase()}`;
        return t;
      }
      case 'rule': {
        const t = new vscode.TreeItem(`${node.ruleId} (${node.items.length})`, vscode.TreeItemCollapsibleState.Expanded);
        t.id = `rule:${node.group}:${node.ruleId}`;
        t.contextValue = 'sentinel.rule';
        t.tooltip = node.items[0]?.title;
        return t;
      }
      case 'finding': {
        const { item } = node;
        const t = new vscode.TreeItem(`${vscode.workspace.asRelativePath(item.uri)}:${item.range.start.line + 1}`, vscode.TreeItemCollapsibleState.None);
        t.id = `finding:${item.ruleId}:${item.uri.toString()}:${item.range.start.line}:${item.range.start.character}:${item.severity}`;
        t.description = item.note ?? `${item.severity} · ${item.title}`;
        t.resourceUri = item.uri;
        t.command = { command: 'vscode.open', title: 'Reveal', arguments: [item.uri, { selection: item.range }] };
        return t;
      }
    }
  }
}
