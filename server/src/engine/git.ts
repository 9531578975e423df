// Reads what Sentinel needs from git without touching the working tree or the index: the repository root,
// commits, the files changed since a ref (renames followed), and a tree at a ref copied out of git objects.
// Runs the `git` binary with an argument list (never a shell); every failure is a GitError with a reason.
import { isUtf8 } from 'node:buffer';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { escapeName } from './names';

/** A git problem the user can act on (not a repository, unknown ref, git missing); the CLI exits 2 on it. */
export class GitError extends Error {
  override name = 'GitError';
}

/** One git object can be large, but a scan only reads source files; this bounds what one call may return. */
const MAX_OUTPUT_BYTES = 512 * 1024 * 1024;
/** Objects and bytes per `git cat-file --batch` call, so memory stays bounded on large trees. */
const CAT_FILE_BATCH = 400;
const CAT_FILE_BATCH_BYTES = 64 * 1024 * 1024;

// Optional locks off: commands that may refresh the index opportunistically leave it alone. Literal
// pathspecs: a folder named `src[1]` is a path, not a pattern.
const GIT_ENV = { GIT_OPTIONAL_LOCKS: '0', GIT_LITERAL_PATHSPECS: '1', GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };
// Settings no scanned repository's own config may change: paths come back raw, and no fsmonitor hook (a
// command named in the repository's .git/config) is ever run.
const GIT_CONFIG = ['-c', 'core.quotepath=off', '-c', 'core.fsmonitor=false'];
/** A synchronous git call (the file walk's) that takes longer than this is stopped. */
const SYNC_TIMEOUT_MS = 60_000;

function runGit(args: string[], cwd: string, input?: Buffer, env: Record<string, string> = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', [...GIT_CONFIG, ...args], {
      cwd,
      env: { ...process.env, ...GIT_ENV, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
      shell: false,
    });
    const out: Buffer[] = [];
    let size = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OUTPUT_BYTES) {
        child.kill();
        reject(new GitError(`git ${args[0]} returned more than ${MAX_OUTPUT_BYTES} bytes; stopped`));
        return;
      }
      out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(new GitError(err.code === 'ENOENT' ? 'git is not installed (no `git` on PATH)' : `git could not be started: ${err.message}`));
    });
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new GitError(`git ${args[0]} failed: ${stderr.trim().split('\n')[0] || `exit code ${code}`}`));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/**
 * The synchronous form of runGit, for the file walk (which is synchronous): an argument list, no shell, the
 * same environment, bounded output and a timeout. Git's own repository-selecting variables (set when Sentinel
 * runs inside a git hook) are dropped, so the repository is the one that holds `cwd`, found as git finds it.
 */
function runGitSync(args: string[], cwd: string): Buffer {
  const env: NodeJS.ProcessEnv = { ...process.env, ...GIT_ENV };
  for (const name of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR', 'GIT_PREFIX']) delete env[name];
  const r = spawnSync('git', [...GIT_CONFIG, ...args], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    shell: false,
    maxBuffer: MAX_OUTPUT_BYTES,
    timeout: SYNC_TIMEOUT_MS,
  });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new GitError('git is not installed (no `git` on PATH)');
    if (code === 'ETIMEDOUT') throw new GitError(`git ${args[0]} took longer than ${SYNC_TIMEOUT_MS / 1000} s; stopped`);
    if (code === 'ENOBUFS') throw new GitError(`git ${args[0]} returned more than ${MAX_OUTPUT_BYTES} bytes; stopped`);
    throw new GitError(`git could not be started: ${r.error.message}`);
  }
  if (r.status !== 0) {
    const stderr = r.stderr.toString('utf8').trim().split('\n')[0];
    throw new GitError(`git ${args[0]} failed: ${stderr || (r.signal ? `killed by ${r.signal}` : `exit code ${r.status}`)}`);
  }
  return r.stdout;
}

/**
 * The top folder (real path) of the git work tree that holds the folder `dir`, or undefined when `dir` is in
 * none (no repository, or inside a .git folder). Throws a GitError when git cannot answer (not installed,
 * a repository it refuses to read, such as one owned by another user).
 */
export function workTreeTopSync(dir: string): string | undefined {
  try {
    const out = runGitSync(['rev-parse', '--show-toplevel'], dir).toString('utf8');
    const top = out.endsWith('\n') ? out.slice(0, -1) : out;
    return top ? fs.realpathSync(top) : undefined;
  } catch (err) {
    if (err instanceof GitError && /not a git repository|must be run in a work tree/.test(err.message)) return undefined;
    throw err;
  }
}

/**
 * The paths git tracks (the index: committed or staged) under the folder `dir`, relative to it, with forward
 * slashes; a submodule is one entry (its folder). One `git ls-files` call for the whole folder.
 */
export function trackedFilesSync(dir: string): string[] {
  const out = runGitSync(['ls-files', '-z', '--cached', '--', '.'], dir);
  return out.toString('utf8').split('\0').filter((p) => p !== '');
}

/** The repository's top folder (real path), or a GitError saying `cwd` is not inside a git work tree. */
export async function repositoryRoot(cwd: string): Promise<string> {
  try {
    const out = await runGit(['rev-parse', '--show-toplevel'], cwd);
    return fs.realpathSync(out.toString('utf8').trim());
  } catch (err) {
    if (err instanceof GitError && /not installed/.test(err.message)) throw err;
    throw new GitError(`${cwd} is not inside a git repository`);
  }
}

/** Resolves `ref` to a commit SHA. A ref starting with `-` is refused, so it can never be read as an option. */
export async function resolveCommit(root: string, ref: string): Promise<string> {
  if (ref === '' || ref.startsWith('-')) throw new GitError(`'${ref}' is not a git ref`);
  try {
    const out = await runGit(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], root);
    return out.toString('utf8').trim();
  } catch {
    throw new GitError(`unknown git ref '${ref}' (no such branch, tag or commit in ${root}; in CI, fetch it first)`);
  }
}

/**
 * The commit to compare with: the merge base of `commit` and HEAD, so that changes made on the base branch
 * after this branch forked count neither as changes nor as fixes. Falls back to `commit` itself when there is
 * no merge base (a shallow clone, unrelated histories, no HEAD yet).
 */
export async function comparisonCommit(root: string, commit: string): Promise<string> {
  try {
    const out = await runGit(['merge-base', commit, 'HEAD'], root);
    const base = out.toString('utf8').trim();
    return base || commit;
  } catch {
    return commit;
  }
}

export type ChangeStatus = 'added' | 'modified' | 'renamed' | 'copied' | 'deleted' | 'type-changed' | 'untracked';

export interface ChangedFile {
  status: ChangeStatus;
  /** Path relative to the repository root, with forward slashes: the path now (for deletions, the old one). */
  path: string;
  /** For renames and copies: the path at the ref. */
  from?: string;
  /** The path's bytes are not valid UTF-8: `path` shows them escaped (escapeName) and names no file on disk. */
  notUtf8?: boolean;
}

/** One field of git's NUL-separated output: text, or the escaped form of a path whose bytes are not UTF-8. */
interface NulField {
  text: string;
  /** Spread into a ChangedFile as it is. */
  flag: { notUtf8?: true };
}

function nulFields(out: Buffer): NulField[] {
  const fields: NulField[] = [];
  let start = 0;
  for (let end = out.indexOf(0); end !== -1; start = end + 1, end = out.indexOf(0, start)) {
    const raw = out.subarray(start, end);
    fields.push(isUtf8(raw) ? { text: raw.toString('utf8'), flag: {} } : { text: escapeName(raw), flag: { notUtf8: true } });
  }
  return fields;
}

const STATUS: Record<string, ChangeStatus> = { A: 'added', M: 'modified', R: 'renamed', C: 'copied', D: 'deleted', T: 'type-changed' };

/**
 * Files that differ between `commit` and the working tree: committed since, staged and unstaged changes,
 * plus untracked files that are not ignored. Renames are followed (`-M`), so a moved file is one entry.
 */
export async function changedFiles(root: string, commit: string): Promise<ChangedFile[]> {
  // `git diff` refreshes the index's stat data and writes it back even with optional locks off. It gets a
  // copy to refresh, so that files only touched (same content, new timestamp) are not reported, and the
  // repository's own index is never written.
  const index = path.resolve(root, (await runGit(['rev-parse', '--git-path', 'index'], root)).toString('utf8').trim());
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-index-'));
  try {
    const copy = path.join(scratch, 'index');
    if (fs.existsSync(index)) fs.copyFileSync(index, copy);
    return await changedFilesWithIndex(root, commit, { GIT_INDEX_FILE: copy });
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

async function changedFilesWithIndex(root: string, commit: string, env: Record<string, string>): Promise<ChangedFile[]> {
  const diff = await runGit(['diff', '--name-status', '-z', '-M', '--no-ext-diff', '--no-textconv', '--ignore-submodules', commit, '--'], root, undefined, env);
  const fields = nulFields(diff);
  const none: NulField = { text: '', flag: {} };
  const changes: ChangedFile[] = [];
  for (let i = 0; i < fields.length; ) {
    const code = fields[i++]!.text;
    const status = STATUS[code[0] ?? ''];
    if (code[0] === 'R' || code[0] === 'C') {
      const from = fields[i++] ?? none;
      const to = fields[i++] ?? none;
      changes.push({ status: status!, path: to.text, from: from.text, ...to.flag });
    } else {
      const file = fields[i++] ?? none;
      // U (unmerged) and X (unknown) entries still name a file that exists: scan it as modified.
      changes.push({ status: status ?? 'modified', path: file.text, ...file.flag });
    }
  }
  const untracked = await runGit(['ls-files', '--others', '--exclude-standard', '-z', '--full-name', '--', '.'], root, undefined, env);
  for (const file of nulFields(untracked)) if (file.text) changes.push({ status: 'untracked', path: file.text, ...file.flag });
  return changes;
}

interface TreeEntry {
  mode: string;
  type: string;
  sha: string;
  size: number;
  path: string;
}

async function listTree(root: string, commit: string, pathspecs: string[]): Promise<TreeEntry[]> {
  const args = ['ls-tree', '-r', '-z', '-l', '--full-name', commit];
  if (pathspecs.length > 0) args.push('--', ...pathspecs);
  const out = await runGit(args, root);
  const entries: TreeEntry[] = [];
  // A path that is not valid UTF-8 comes out escaped, as the walk shows the same file in the working tree.
  for (const { text: record } of nulFields(out)) {
    if (!record) continue;
    const tab = record.indexOf('\t');
    const [mode = '', type = '', sha = '', size = ''] = record.slice(0, tab).split(/\s+/);
    entries.push({ mode, type, sha, size: Number(size), path: record.slice(tab + 1) });
  }
  return entries;
}

/** Splits objects into `git cat-file` batches bounded in count and total size. */
function batches(objects: { sha: string; size: number }[]): string[][] {
  const out: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const o of objects) {
    if (current.length > 0 && (current.length >= CAT_FILE_BATCH || bytes + o.size > CAT_FILE_BATCH_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(o.sha);
    bytes += o.size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** Reads blobs through one `git cat-file --batch` per batch; returns content by SHA. */
async function readBlobs(root: string, objects: { sha: string; size: number }[]): Promise<Map<string, Buffer>> {
  const blobs = new Map<string, Buffer>();
  for (const batch of batches(objects)) {
    const out = await runGit(['cat-file', '--batch'], root, Buffer.from(`${batch.join('\n')}\n`));
    let offset = 0;
    while (offset < out.length) {
      const headerEnd = out.indexOf(0x0a, offset);
      if (headerEnd < 0) break;
      const [sha = '', type = '', size = ''] = out.subarray(offset, headerEnd).toString('utf8').split(' ');
      if (type === 'missing') throw new GitError(`git object ${sha} is missing (a shallow or partial clone?)`);
      const length = Number(size);
      blobs.set(sha, out.subarray(headerEnd + 1, headerEnd + 1 + length));
      offset = headerEnd + 1 + length + 1;
    }
  }
  return blobs;
}

export interface TreeCopyOptions {
  /** Paths relative to the repository root (forward slashes) to copy, folders included; all when empty. */
  pathspecs: string[];
  /** Decides per file, by its repository path, whether to copy it (skip what the scan would not read). */
  include: (repoPath: string) => boolean;
  /** Where each repository path goes, or undefined to leave it out. */
  destination: (repoPath: string) => string | undefined;
  /** Blobs larger than this are not copied (the scan would not read them either). */
  maxBytes: number;
}

/**
 * Writes the files of `commit`'s tree under the given pathspecs to their destinations, from git objects:
 * the working tree, the index and HEAD are not touched. Symlinks and submodules are left out. Returns the
 * number of files written.
 */
export async function copyTreeAt(root: string, commit: string, options: TreeCopyOptions): Promise<number> {
  const wanted = (await listTree(root, commit, options.pathspecs)).filter(
    (e) => e.type === 'blob' && e.mode !== '120000' && e.size <= options.maxBytes && options.include(e.path),
  );
  const unique = new Map(wanted.map((e) => [e.sha, { sha: e.sha, size: e.size }]));
  const blobs = await readBlobs(root, [...unique.values()]);
  let written = 0;
  for (const entry of wanted) {
    // Git never stores `..` or absolute paths in a tree, but a crafted one must still not escape the folder.
    if (entry.path.split('/').some((part) => part === '..' || part === '') || path.isAbsolute(entry.path)) continue;
    const target = options.destination(entry.path);
    const content = blobs.get(entry.sha);
    if (!target || !content) continue;
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, content);
    written++;
  }
  return written;
}
