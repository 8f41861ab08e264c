// packages/core/src/option-checks.ts
// Checks shared by createMfa's options and every plugin factory: unknown keys refused with a
// "did you mean", bounded integers — each error names the option.
import { MfaConfigError } from './errors';

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row[j]!;
      row[j] = next;
    }
  }
  return row[b.length]!;
}

/**
 * The known option name closest to a mistyped `name` (case-insensitive, at most two edits away),
 * for a "Did you mean …?" in a factory's `MfaConfigError` — core's options and plugins alike.
 */
export function closestOptionName(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: { key: string; d: number } | undefined;
  for (const key of known) {
    const d = editDistance(lower, key.toLowerCase());
    if (d <= 2 && (!best || d < best.d)) best = { key, d };
  }
  return best?.key;
}

/** Refuses keys of `obj` not in `known`, naming the closest known one. */
export function checkKeys(obj: object | undefined, known: readonly string[], prefix: string): void {
  if (obj === undefined) return;
  if (obj === null || typeof obj !== 'object') throw new MfaConfigError(prefix || 'options', 'must be an object');
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      const hint = closestOptionName(key, known);
      throw new MfaConfigError(prefix ? `${prefix}.${key}` : key, `is not a known option${hint ? `. Did you mean \`${hint}\`?` : ''}`);
    }
  }
}

/** An integer option in [min, max], or `def` when absent. */
export function int(value: unknown, name: string, def: number, min: number, max: number): number {
  if (value === undefined) return def;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new MfaConfigError(name, `must be an integer from ${min} to ${max} (got ${String(value)})`);
  }
  return value;
}
