// Decides which language a file is in, from its name and (for C++ and extension-less scripts) a peek at
// its text, and which tree-sitter grammar parses it.
import * as path from 'node:path';
import type { LanguageId } from './finding';

/** The grammar .wasm each tree-sitter language uses; line-based formats (dotenv, Dockerfile) have none. */
export const GRAMMAR_FILES: Partial<Record<LanguageId, string>> = {
  python: 'tree-sitter-python.wasm',
  notebook: 'tree-sitter-python.wasm',
  javascript: 'tree-sitter-javascript.wasm',
  typescript: 'tree-sitter-typescript.wasm',
  tsx: 'tree-sitter-tsx.wasm',
  cuda: 'tree-sitter-cuda.wasm',
  shell: 'tree-sitter-bash.wasm',
  yaml: 'tree-sitter-yaml.wasm',
};

const BY_EXTENSION: Record<string, LanguageId> = {
  '.py': 'python',
  '.pyi': 'python',
  '.pyw': 'python',
  '.ipynb': 'notebook',
  '.js': 'javascript',
  '.mjs': 'javascript',
  '.cjs': 'javascript',
  '.jsx': 'javascript',
  '.ts': 'typescript',
  '.mts': 'typescript',
  '.cts': 'typescript',
  '.tsx': 'tsx',
  '.cu': 'cuda',
  '.cuh': 'cuda',
  '.sh': 'shell',
  '.bash': 'shell',
  '.zsh': 'shell',
  '.yml': 'yaml',
  '.yaml': 'yaml',
  '.env': 'dotenv',
  '.dockerfile': 'dockerfile',
};

/** C and C++ files are only analysed when they call NVRTC or the driver's module loader. */
const CPP_EXTENSIONS = new Set(['.cpp', '.cc', '.cxx', '.c', '.h', '.hpp', '.hh', '.hxx']);
const NVRTC_HINT = /\b(nvrtcCreateProgram|cuModuleLoadData(Ex)?|cuLinkAddData)\b/;

/** Whether C/C++ text calls NVRTC or loads modules from memory, which is what makes it Sentinel's business. */
export function callsNvrtc(text: string): boolean {
  return NVRTC_HINT.test(text);
}

/**
 * The language of `file`, or undefined when Sentinel does not read it. `head` is the start of the file's
 * text, used where the name alone does not tell (C++ without NVRTC, scripts with a shebang).
 */
export function detectLanguage(file: string, head?: string): LanguageId | undefined {
  const base = path.basename(file);
  const lower = base.toLowerCase();
  if (lower === 'dockerfile' || lower.startsWith('dockerfile.') || lower.endsWith('.dockerfile') || lower === 'containerfile') {
    return 'dockerfile';
  }
  if (lower === '.env' || lower.startsWith('.env.') || lower.endsWith('.env')) return 'dotenv';
  const ext = path.extname(lower);
  const known = BY_EXTENSION[ext];
  if (known) return known;
  if (CPP_EXTENSIONS.has(ext)) return head !== undefined && NVRTC_HINT.test(head) ? 'cuda' : undefined;
  if (ext === '' && head?.startsWith('#!')) {
    const shebang = head.slice(0, head.indexOf('\n') >>> 0);
    if (/\bpython[0-9.]*\b/.test(shebang)) return 'python';
    if (/\b(ba|z|k)?sh\b/.test(shebang)) return 'shell';
    if (/\bnode\b/.test(shebang)) return 'javascript';
  }
  return undefined;
}

/** Whether a file's language can only be known from its text (so the walker must read it first). */
export function needsContentSniff(file: string): boolean {
  const ext = path.extname(file).toLowerCase();
  return CPP_EXTENSIONS.has(ext) || ext === '';
}

/** The family whose source model (rules/sources.yml) and sink table apply. */
export function languageFamily(lang: LanguageId): 'python' | 'javascript' | 'cuda' | 'config' {
  switch (lang) {
    case 'python':
    case 'notebook':
      return 'python';
    case 'javascript':
    case 'typescript':
    case 'tsx':
      return 'javascript';
    case 'cuda':
      return 'cuda';
    default:
      return 'config';
  }
}

/**
 * Files that only the compiled-cache scan reads (pickles, archives, compiled kernels, cache metadata). Used
 * where a list of files is chosen up front (changed files, a tree read from git) so that they are not left
 * out, and so that naming one explicitly is not reported as "not a language Sentinel reads".
 */
const CACHE_ARTIFACT = /\.(pt|pth|bin|ckpt|pkl|pickle|nbi|nbc|so|cubin|ptx|ttir|ttgir|llir|hsaco|json|megacache)$|(^|[\\/])build\.ninja$/i;

export function mayBeCacheArtifact(file: string): boolean {
  return CACHE_ARTIFACT.test(file);
}
