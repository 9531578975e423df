// Command and view IDs of the VS Code extension, declared once: the client registers them, package.json
// contributes them, and a unit test checks that both lists agree.
export const CLIENT_COMMANDS = {
  // Announced by the server and registered through vscode-languageclient; the client decides how they run.
  scanWorkspace: 'sentinel.scanWorkspace',
  retest: 'sentinel.retest',
  // Registered by the client itself.
  copyRetest: 'sentinel.copyRetestCommand',
  showRule: 'sentinel.showRuleDocumentation',
  openPolicy: 'sentinel.openPolicy',
  restart: 'sentinel.restartServer',
  showOutput: 'sentinel.showOutput',
  showGatingFindings: 'sentinel.showGatingFindings',
} as const;

export const FINDINGS_VIEW = 'sentinel.findings';
export const STATUS_BAR_ITEM = 'sentinel.gate';
