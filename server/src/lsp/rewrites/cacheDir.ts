// The per-user cache folder a JIT-CACHE-POISONING fix points a variable at: `~/.cache/<name>`, with the
// name taken from the variable (TRITON_CACHE_DIR → triton), shared by every language's rewrite.

/** Names that read better than the variable stem, mostly each tool's own default folder name. */
const KNOWN: Record<string, string> = {
  TORCHINDUCTOR_CACHE_DIR: 'torchinductor',
  CUDA_CACHE_PATH: 'nv',
  PYTORCH_KERNEL_CACHE_PATH: 'torch-kernels',
  TORCH_EXTENSIONS_DIR: 'torch_extensions',
  JAX_COMPILATION_CACHE_DIR: 'jax',
  jax_compilation_cache_dir: 'jax',
};

/** The folder name under ~/.cache for a cache variable or config key. */
export function cacheFolderName(variable: string): string {
  const known = KNOWN[variable];
  if (known) return known;
  const stem = variable
    .replace(/_?(CACHE_DIR|CACHE_PATH|CACHE|DIR|PATH)$/i, '')
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '-');
  return stem || 'jit';
}
