// Scratch git repositories for tests: files from a map, commits with a throwaway identity given per command
// (`git -c user.name=t -c user.email=t@t commit`), and no global or system git configuration read.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeWorkspace } from './workspace';

/** Isolated from the machine's git configuration, so a global hook, signing key or alias cannot interfere. */
export const GIT_TEST_ENV = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };

/** Runs git in `repo` and returns its standard output, trimmed. */
export function git(repo: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: repo, env: GIT_TEST_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** Stages everything and commits; returns the new commit's SHA. */
export function commitAll(repo: string, message: string): string {
  git(repo, 'add', '-A');
  git(repo, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--no-verify', '-m', message);
  return git(repo, 'rev-parse', 'HEAD');
}

/** A new repository on branch `main` holding `files` in its first commit (none when `files` is empty). */
export function makeGitRepo(files: Record<string, string>): string {
  const repo = makeWorkspace(files);
  git(repo, 'init', '-q', '-b', 'main');
  if (Object.keys(files).length > 0) commitAll(repo, 'initial');
  return repo;
}

/** Writes (or, for `null`, deletes) files in the work tree without staging them. */
export function writeFiles(repo: string, files: Record<string, string | null>): void {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(repo, rel);
    if (content === null) {
      fs.rmSync(abs, { force: true });
      continue;
    }
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, content);
  }
}
