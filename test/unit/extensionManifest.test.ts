// The extension manifest against the code: every server setting is contributed with the same default,
// every command the client registers is contributed, and the .vsix holds the bundle and nothing else.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLIENT_COMMANDS } from '../../shared/src/ids';
import { DEFAULT_SETTINGS, normaliseSettings } from '../../shared/src/settings';

const root = path.join(__dirname, '..', '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  main: string;
  contributes: {
    configuration: { properties: Record<string, { default: unknown; description?: string }> };
    commands: { command: string; title: string }[];
    yamlValidation: { fileMatch: string[]; url: string }[];
  };
};

describe('extension manifest', () => {
  it('contributes every server setting with the default the server uses', () => {
    const contributed = Object.fromEntries(
      Object.entries(manifest.contributes.configuration.properties).map(([key, value]) => [key.replace(/^sentinel\./, ''), value.default]),
    );
    assert.deepEqual(contributed, { ...DEFAULT_SETTINGS });
    for (const [key, value] of Object.entries(manifest.contributes.configuration.properties)) {
      assert.ok((value.description ?? '').length > 20, `${key} needs a description`);
    }
    assert.deepEqual(normaliseSettings(contributed), DEFAULT_SETTINGS);
  });

  it('falls back to the default for a setting of the wrong type', () => {
    assert.deepEqual(normaliseSettings({ rules: 'JIT', minimumSeverity: 'SEVERE', maxFileSize: -1, showSuppressed: 'yes' }), DEFAULT_SETTINGS);
  });

  it('contributes every command the client registers', () => {
    const contributed = manifest.contributes.commands.map((c) => c.command).sort();
    assert.deepEqual(contributed, Object.values(CLIENT_COMMANDS).sort());
  });

  it('points editors at the policy schema that ships in the package', () => {
    assert.deepEqual(manifest.contributes.yamlValidation, [{ fileMatch: ['sentinel-policy.yml', 'sentinel-policy.yaml'], url: './dist/rules/policy.schema.json' }]);
  });

  it('packages the bundles, grammars, rules, docs and icon, and nothing else', function () {
    this.timeout(60000);
    const vsce = path.join(root, 'node_modules', '.bin', 'vsce');
    const files = execFileSync(vsce, ['ls', '--no-dependencies'], { cwd: root, encoding: 'utf8' }).trim().split('\n').sort();
    const unexpected = files.filter(
      (f) => !/^(package\.json|README\.md|CHANGELOG\.md|LICENSE|images\/(icon\.png|activity\.svg)|dist\/(cli|server|extension|worker|validators)\.js|dist\/grammars\/[\w.-]+\.(wasm|json)|dist\/rules\/[\w.-]+\.(yml|json))$/.test(f),
    );
    assert.deepEqual(unexpected, []);
    for (const needed of ['dist/extension.js', 'dist/server.js', 'dist/cli.js', 'dist/worker.js', 'dist/validators.js', 'dist/grammars/tree-sitter-python.wasm', 'dist/rules/JIT-EVAL-COMPILE.yml', 'dist/rules/policy.schema.json', 'LICENSE', 'images/icon.png']) {
      assert.ok(files.includes(needed), `${needed} is missing from the package`);
    }
    assert.equal(manifest.main, './dist/extension.js');
  });
});
