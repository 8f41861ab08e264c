// packages/express/src/options.ts
// Option checks shared by the factories: they run once, when the middleware is created, and
// throw a TypeError naming the option (with a "Did you mean" hint for a misspelt key).
import type { Mfa } from '@secondfactor/core';

export function configError(where: string, option: string, message: string): TypeError {
  return new TypeError(`secondfactor: ${where} option \`${option}\` ${message}`);
}

function closest(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  return known.find((k) => k.toLowerCase() === lower) ?? known.find((k) => k.toLowerCase().startsWith(lower.slice(0, 4)));
}

/** Throws for an options value that is not a plain object or has a key not in `known`. */
export function checkKnownKeys(options: unknown, known: readonly string[], where: string): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`secondfactor: ${where} must be an object`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const hint = closest(key, known);
      throw new TypeError(`secondfactor: ${where} received an unsupported property, \`${key}\`.${hint ? ` Did you mean to pass \`${hint}\`?` : ''}`);
    }
  }
}

/** Throws unless `value` is a function (or undefined when optional). */
export function checkFunction(value: unknown, where: string, option: string, required = false): void {
  if (value === undefined && !required) return;
  if (typeof value !== 'function') throw configError(where, option, required ? 'is required and must be a function' : 'must be a function');
}

/** Throws unless `mfa` looks like the engine returned by `createMfa()`. */
export function checkMfa(mfa: unknown, where: string): asserts mfa is Mfa {
  const m = mfa as Partial<Mfa> | null;
  if (!m || typeof m !== 'object' || typeof m.status !== 'function' || typeof m.login?.start !== 'function' || typeof m.assertions?.verify !== 'function') {
    throw new TypeError(`secondfactor: ${where} expects the engine returned by createMfa() as its first argument`);
  }
}

/** Throws unless `value` is an integer in [min, max] (or undefined). */
export function checkSeconds(value: unknown, where: string, option: string, min: number, max: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw configError(where, option, `must be an integer number of seconds from ${min} to ${max}`);
  }
}
