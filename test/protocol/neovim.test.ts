// One real editor that nobody here wrote: headless Neovim attaches `sentinel lsp --stdio` through its
// built-in LSP client (the 0.7 API, which Debian ships) and must see Sentinel's diagnostics for a fixture.
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeWorkspace, removeWorkspace } from '../helpers/workspace';

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli.js');

function nvimPath(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v nvim'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

// The Lua script starts the client, waits for diagnostics (up to 20 s) and writes them as JSON.
const INIT_LUA = `
-- init.lua runs before the file named on the command line is loaded: attach once it is (VimEnter).
vim.api.nvim_create_autocmd('VimEnter', { callback = function()
  local out = os.getenv('SENTINEL_NVIM_OUT')
  local root = os.getenv('SENTINEL_NVIM_ROOT')
  local client_id = vim.lsp.start_client({
    name = 'sentinel',
    cmd = { os.getenv('SENTINEL_NODE'), os.getenv('SENTINEL_CLI'), 'lsp', '--stdio' },
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = 'ws' } },
  })
  vim.lsp.buf_attach_client(0, client_id)
  local ok = vim.wait(20000, function() return #vim.diagnostic.get(0) > 0 end, 100)
  local result = { attached = client_id ~= nil, waited = ok, diagnostics = {} }
  for _, d in ipairs(vim.diagnostic.get(0)) do
    local lsp = d.user_data and d.user_data.lsp or {}
    table.insert(result.diagnostics, { lnum = d.lnum, col = d.col, severity = d.severity, source = d.source, code = lsp.code, message = d.message })
  end
  local f = io.open(out, 'w')
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd('qall!')
end })
`;

describe('neovim (headless) as an LSP client', function () {
  this.timeout(60000);
  const nvim = nvimPath();

  it('shows Sentinel diagnostics for a Python fixture', function () {
    if (!nvim) {
      // .ci/run installs Debian's neovim; only a developer machine without it skips.
      console.log('      skipped: nvim is not installed (apt-get install neovim)');
      this.skip();
    }
    const ws = makeWorkspace({
      'agent/tool.py': 'def calculator(expression):\n    return eval(expression)\n',
      'init.lua': INIT_LUA,
    });
    try {
      const out = path.join(ws, 'result.json');
      const run = spawnSync(nvim!, ['--headless', '--clean', '-u', path.join(ws, 'init.lua'), path.join(ws, 'agent/tool.py')], {
        cwd: ws,
        env: { ...process.env, SENTINEL_NVIM_OUT: out, SENTINEL_NVIM_ROOT: ws, SENTINEL_NODE: process.execPath, SENTINEL_CLI: CLI },
        timeout: 45000,
        encoding: 'utf8',
      });
      assert.ok(fs.existsSync(out), `nvim wrote no result (status ${run.status}): ${run.stderr}${run.stdout}`);
      const result = JSON.parse(fs.readFileSync(out, 'utf8')) as {
        attached: boolean;
        waited: boolean;
        diagnostics: { lnum: number; col: number; severity: number; source: string; code: string; message: string }[];
      };
      assert.equal(result.attached, true);
      assert.equal(result.waited, true, 'no diagnostics arrived within 20 s');
      assert.equal(result.diagnostics.length, 1);
      const [d] = result.diagnostics;
      assert.deepEqual([d.lnum, d.col, d.severity, d.source, d.code], [1, 11, 1, 'sentinel', 'JIT-EVAL-COMPILE']);
      assert.match(d.message, /Dynamic eval or compile/);
    } finally {
      removeWorkspace(ws);
    }
  });
});
