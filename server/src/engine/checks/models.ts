// Matching the source, sanitizer and sink-context models (rules/sources.yml, rules/sink-context.yml) against
// names: `*` globs over qualified names, receiver patterns, and whether a guard's regular expression is strict.

const globs = new Map<string, RegExp>();

/** Whether the qualified or written name `name` matches `pattern`, where `*` matches any run of characters. */
export function matchesName(name: string | undefined, pattern: string): boolean {
  if (name === undefined) return false;
  if (!pattern.includes('*')) return name === pattern;
  let re = globs.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*')}$`);
    globs.set(pattern, re);
  }
  return re.test(name);
}

const receivers = new Map<string, RegExp | null>();

/** A case-insensitive regular expression from a model file; null when it does not compile (never thrown). */
export function receiverPattern(source: string): RegExp | null {
  let re = receivers.get(source);
  if (re === undefined) {
    try {
      re = new RegExp(source, 'i');
    } catch {
      re = null;
    }
    receivers.set(source, re);
  }
  return re;
}

/**
 * Whether a pattern, matched against the whole value, admits only text that cannot name anything: no
 * letters, digits-only classes, operators and spaces (`[0-9+\-*\/(). ]+`). Such a value cannot call a
 * function or reach an attribute, so a value it guards is treated as constant. `\w`, `.`, `\S`, negated
 * classes and any letter make it loose: the guarded value is then untainted but still reported.
 */
export function isStrictPattern(pattern: string): boolean {
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      i++;
      if (/[wWSDpPNxuU]/.test(next)) return false; // classes that admit letters, or escapes that spell one
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      else if (/[A-Za-z_]/.test(c)) return false;
      continue;
    }
    if (c === '[') {
      if (pattern[i + 1] === '^') return false;
      inClass = true;
      continue;
    }
    if (c === '.' || /[A-Za-z_]/.test(c)) return false;
  }
  return true;
}

/** Whether a pattern (for `re.match`, `RegExp#test`) is anchored at both ends. */
export function isAnchored(pattern: string): boolean {
  return /^\^/.test(pattern) && /(\$|\\Z|\\z)$/.test(pattern);
}
