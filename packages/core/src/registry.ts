// packages/core/src/registry.ts
// The factor types a server offers, checked once: unique names that are safe route segments,
// the required members present, at most one recovery-code type. Flows look plugins up here and
// nowhere else.
import { MfaConfigError } from './errors';
import type { FactorPlugin } from './factor-plugin';

export interface FactorRegistry {
  /** Every plugin, in the order given (the order methods are offered in). */
  readonly all: readonly FactorPlugin[];
  get(type: string): FactorPlugin | undefined;
  /** The plugin issuing recovery codes, if any. */
  readonly recovery: (FactorPlugin & Required<Pick<FactorPlugin, 'recovery'>>) | undefined;
}

const TYPE_NAME = /^[a-z][a-z0-9_]{1,31}$/;
/** Route segments the router uses itself: a type with one of these names would shadow a route. */
const RESERVED = new Set(['status', 'verify', 'step_up', 'challenge', 'factors', 'disable', 'trusted_devices', 'backup_codes']);

export function createRegistry(plugins: unknown, option = 'factors'): FactorRegistry {
  if (!Array.isArray(plugins) || plugins.length === 0) throw new MfaConfigError(option, 'must be a non-empty array of factor plugins, e.g. [totp(), backupCodes()]');
  const byType = new Map<string, FactorPlugin>();
  let recovery: FactorRegistry['recovery'];
  plugins.forEach((p: FactorPlugin, i) => {
    const where = `${option}[${i}]`;
    if (!p || typeof p !== 'object') throw new MfaConfigError(where, 'must be a factor plugin object (e.g. totp())');
    if (typeof p.type !== 'string' || !TYPE_NAME.test(p.type) || RESERVED.has(p.type)) {
      throw new MfaConfigError(`${where}.type`, `must be 2-32 characters of [a-z0-9_] starting with a letter, not one of ${[...RESERVED].join(', ')}`);
    }
    if (byType.has(p.type)) throw new MfaConfigError(where, `repeats the factor type "${p.type}"`);
    if (p.input !== 'code' && p.input !== 'response') throw new MfaConfigError(`${where}.input`, 'must be "code" or "response"');
    if (typeof p.parseInput !== 'function' || typeof p.verify !== 'function') throw new MfaConfigError(where, 'must have parseInput() and verify()');
    if (p.enroll && (typeof p.enroll.parse !== 'function' || typeof p.enroll.begin !== 'function' || typeof p.enroll.finish !== 'function')) {
      throw new MfaConfigError(`${where}.enroll`, 'must have parse(), begin() and finish()');
    }
    if (p.recovery) {
      if (recovery) throw new MfaConfigError(where, `is a second recovery-code type (after "${recovery.type}")`);
      recovery = p as NonNullable<FactorRegistry['recovery']>;
    }
    byType.set(p.type, p);
  });
  if ([...byType.values()].every((p) => !p.enroll)) throw new MfaConfigError(option, 'has no factor type a user can enrol (add totp() or another)');
  const all = Object.freeze([...byType.values()]);
  return { all, get: (type) => byType.get(type), recovery };
}
