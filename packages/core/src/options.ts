// packages/core/src/options.ts
// createMfa's options: validated once, with errors that name the option, then frozen defaults.
import { assertStoreShape } from './compose-stores';
import { defaultRandom, type RandomSource } from './crypto';
import { MfaConfigError } from './errors';
import type { EventSink } from './events';
import { resolveSigningKey, type SigningKey } from './assertions';
import { decodeKey, type EncryptionKeys } from './secret-box';
import type { CodeSender } from './senders';
import { DURABLE_METHODS, EPHEMERAL_METHODS, type MfaStore } from './store';
import type { TotpAlgorithm, TotpWindow } from './totp';

export interface SendLimits {
  perUserPerHour: number;
  perDestinationPerHour: number;
  perIpPerHour: number;
  globalPerHour: number;
}

export interface MfaOptions {
  /** Shown in authenticator apps and messages. No ":". */
  issuer: string;
  store: MfaStore;
  encryptionKeys: EncryptionKeys;
  signingKey: SigningKey;
  totp?: { algorithm?: TotpAlgorithm; digits?: 6 | 8; periodSeconds?: number; window?: Partial<TotpWindow>; secretBytes?: number };
  backupCodes?: { count?: number; bcryptCost?: number };
  challenge?: { ttlSeconds?: number; maxAttempts?: number };
  /** A factor set up but not confirmed within `pendingTtlSeconds` (default 600) is dropped. */
  enrollment?: { pendingTtlSeconds?: number };
  trustedDevices?: { ttlSeconds?: number };
  assertion?: { audience?: string; ttlSeconds?: number };
  limits?: { backoffAfterFailures?: number; backoffBaseSeconds?: number; backoffMaxSeconds?: number; lockAfterFailures?: number; perIpPerWindow?: number; ipWindowSeconds?: number };
  /** Sends SMS codes; enables the `sms` factor. */
  sms?: CodeSender;
  /** Sends email codes; enables the `email` factor. */
  email?: CodeSender;
  oob?: { ttlSeconds?: number; maxAttempts?: number; resendCooldownSeconds?: number; sendLimits?: Partial<SendLimits>; allowedCountries?: string[] };
  onEvent?: EventSink;
  /** Epoch milliseconds. Injected so tests use a fake clock. */
  clock?: () => number;
  /** CSPRNG. Injected for tests. */
  random?: RandomSource;
}

export interface ResolvedOptions {
  issuer: string;
  store: MfaStore;
  encryptionKeys: EncryptionKeys;
  signingKey: SigningKey;
  totp: { algorithm: TotpAlgorithm; digits: 6 | 8; periodSeconds: number; window: TotpWindow; secretBytes: number };
  backupCodes: { count: number; bcryptCost: number };
  challenge: { ttlSeconds: number; maxAttempts: number };
  enrollment: { pendingTtlSeconds: number };
  trustedDevices: { ttlSeconds: number };
  assertion: { audience: string; ttlSeconds: number };
  limits: { backoffAfterFailures: number; backoffBaseSeconds: number; backoffMaxSeconds: number; lockAfterFailures: number; perIpPerWindow: number; ipWindowSeconds: number };
  sms: CodeSender | undefined;
  email: CodeSender | undefined;
  oob: { ttlSeconds: number; maxAttempts: number; resendCooldownSeconds: number; sendLimits: SendLimits; allowedCountries: string[] | undefined };
  onEvent: EventSink | undefined;
  clock: () => number;
  random: RandomSource;
}

const TOP_LEVEL = ['issuer', 'store', 'encryptionKeys', 'signingKey', 'totp', 'backupCodes', 'challenge', 'enrollment', 'trustedDevices', 'assertion', 'limits', 'sms', 'email', 'oob', 'onEvent', 'clock', 'random'];

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

function closest(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: { key: string; d: number } | undefined;
  for (const key of known) {
    const d = editDistance(lower, key.toLowerCase());
    if (d <= 2 && (!best || d < best.d)) best = { key, d };
  }
  return best?.key;
}

function checkKeys(obj: object | undefined, known: readonly string[], prefix: string): void {
  if (obj === undefined) return;
  if (obj === null || typeof obj !== 'object') throw new MfaConfigError(prefix || 'options', 'must be an object');
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      const hint = closest(key, known);
      throw new MfaConfigError(prefix ? `${prefix}.${key}` : key, `is not a known option${hint ? `. Did you mean \`${hint}\`?` : ''}`);
    }
  }
}

function int(value: unknown, name: string, def: number, min: number, max: number): number {
  if (value === undefined) return def;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new MfaConfigError(name, `must be an integer from ${min} to ${max} (got ${String(value)})`);
  }
  return value;
}

function sender(value: unknown, name: string): CodeSender | undefined {
  if (value === undefined) return undefined;
  if (!value || typeof (value as CodeSender).send !== 'function') throw new MfaConfigError(name, 'must be a sender with a send({to, code, purpose}) method');
  return value as CodeSender;
}

export function resolveOptions(options: MfaOptions): ResolvedOptions {
  if (!options || typeof options !== 'object') throw new MfaConfigError('options', 'must be an object');
  checkKeys(options, TOP_LEVEL, '');
  const { issuer } = options;
  if (typeof issuer !== 'string' || issuer.trim() === '' || issuer.length > 100 || issuer.includes(':')) {
    throw new MfaConfigError('issuer', 'is required: a non-empty name (≤ 100 characters, no ":") shown in authenticator apps');
  }
  assertStoreShape(options.store, [...DURABLE_METHODS, ...EPHEMERAL_METHODS], 'store');

  const ek = options.encryptionKeys;
  if (!ek || typeof ek !== 'object' || typeof ek.current !== 'string' || !ek.keys || typeof ek.keys !== 'object') {
    throw new MfaConfigError('encryptionKeys', 'is required: { current: "k1", keys: { k1: "<32 bytes, base64>" } }');
  }
  if (!(ek.current in ek.keys)) throw new MfaConfigError('encryptionKeys.current', `names key "${ek.current}", which is not in encryptionKeys.keys`);
  for (const [id, key] of Object.entries(ek.keys)) {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) throw new MfaConfigError(`encryptionKeys.keys.${id}`, 'key ids must be 1-32 characters of [A-Za-z0-9_-]');
    if (typeof key !== 'string' || decodeKey(key).length !== 32) {
      throw new MfaConfigError(`encryptionKeys.keys.${id}`, 'must be exactly 32 bytes, base64-encoded (openssl rand -base64 32)');
    }
  }
  if (options.signingKey === undefined) throw new MfaConfigError('signingKey', 'is required: an HS256 secret (≥ 32 characters) or {alg, privateKey, publicKey}');
  resolveSigningKey(options.signingKey);

  const t = options.totp ?? {};
  checkKeys(t, ['algorithm', 'digits', 'periodSeconds', 'window', 'secretBytes'], 'totp');
  const algorithm = t.algorithm ?? 'SHA1';
  if (!['SHA1', 'SHA256', 'SHA512'].includes(algorithm)) throw new MfaConfigError('totp.algorithm', `must be SHA1, SHA256 or SHA512 (got ${String(algorithm)})`);
  const digits = t.digits ?? 6;
  if (digits !== 6 && digits !== 8) throw new MfaConfigError('totp.digits', `must be 6 or 8 (got ${String(digits)})`);
  checkKeys(t.window, ['pastSteps', 'futureSteps'], 'totp.window');

  const b = options.backupCodes ?? {};
  checkKeys(b, ['count', 'bcryptCost'], 'backupCodes');
  const c = options.challenge ?? {};
  checkKeys(c, ['ttlSeconds', 'maxAttempts'], 'challenge');
  const en = options.enrollment ?? {};
  checkKeys(en, ['pendingTtlSeconds'], 'enrollment');
  const d = options.trustedDevices ?? {};
  checkKeys(d, ['ttlSeconds'], 'trustedDevices');
  const a = options.assertion ?? {};
  checkKeys(a, ['audience', 'ttlSeconds'], 'assertion');
  if (a.audience !== undefined && (typeof a.audience !== 'string' || a.audience === '')) throw new MfaConfigError('assertion.audience', 'must be a non-empty string');
  const l = options.limits ?? {};
  checkKeys(l, ['backoffAfterFailures', 'backoffBaseSeconds', 'backoffMaxSeconds', 'lockAfterFailures', 'perIpPerWindow', 'ipWindowSeconds'], 'limits');
  const o = options.oob ?? {};
  checkKeys(o, ['ttlSeconds', 'maxAttempts', 'resendCooldownSeconds', 'sendLimits', 'allowedCountries'], 'oob');
  checkKeys(o.sendLimits, ['perUserPerHour', 'perDestinationPerHour', 'perIpPerHour', 'globalPerHour'], 'oob.sendLimits');
  if (o.allowedCountries !== undefined && (!Array.isArray(o.allowedCountries) || !o.allowedCountries.every((x) => typeof x === 'string' && /^[A-Z]{2}$/.test(x)))) {
    throw new MfaConfigError('oob.allowedCountries', 'must be an array of ISO 3166-1 alpha-2 codes such as "US"');
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') throw new MfaConfigError('onEvent', 'must be a function');
  if (options.clock !== undefined && typeof options.clock !== 'function') throw new MfaConfigError('clock', 'must be a function returning epoch milliseconds');
  if (options.random !== undefined && typeof options.random !== 'function') throw new MfaConfigError('random', 'must be a function (n) => Uint8Array');
  const lockAfter = int(l.lockAfterFailures, 'limits.lockAfterFailures', 100, 1, 100);
  const backoffAfter = int(l.backoffAfterFailures, 'limits.backoffAfterFailures', 5, 1, 100);

  return {
    issuer: issuer.trim(),
    store: options.store,
    encryptionKeys: ek,
    signingKey: options.signingKey,
    totp: {
      algorithm, digits,
      periodSeconds: int(t.periodSeconds, 'totp.periodSeconds', 30, 15, 120),
      window: {
        pastSteps: int(t.window?.pastSteps, 'totp.window.pastSteps', 1, 0, 2),
        futureSteps: int(t.window?.futureSteps, 'totp.window.futureSteps', 1, 0, 2),
      },
      secretBytes: int(t.secretBytes, 'totp.secretBytes', 20, 16, 64),
    },
    backupCodes: { count: int(b.count, 'backupCodes.count', 10, 5, 20), bcryptCost: int(b.bcryptCost, 'backupCodes.bcryptCost', 10, 4, 15) },
    challenge: { ttlSeconds: int(c.ttlSeconds, 'challenge.ttlSeconds', 300, 30, 600), maxAttempts: int(c.maxAttempts, 'challenge.maxAttempts', 5, 1, 10) },
    enrollment: { pendingTtlSeconds: int(en.pendingTtlSeconds, 'enrollment.pendingTtlSeconds', 600, 60, 3600) },
    trustedDevices: { ttlSeconds: int(d.ttlSeconds, 'trustedDevices.ttlSeconds', 30 * 86400, 3600, 90 * 86400) },
    assertion: { audience: a.audience ?? 'secondfactor', ttlSeconds: int(a.ttlSeconds, 'assertion.ttlSeconds', 300, 30, 86400) },
    limits: {
      backoffAfterFailures: Math.min(backoffAfter, lockAfter),
      backoffBaseSeconds: int(l.backoffBaseSeconds, 'limits.backoffBaseSeconds', 30, 1, 3600),
      backoffMaxSeconds: int(l.backoffMaxSeconds, 'limits.backoffMaxSeconds', 3600, 1, 86400),
      lockAfterFailures: lockAfter,
      perIpPerWindow: int(l.perIpPerWindow, 'limits.perIpPerWindow', 300, 1, 1_000_000),
      ipWindowSeconds: int(l.ipWindowSeconds, 'limits.ipWindowSeconds', 900, 60, 86400),
    },
    sms: sender(options.sms, 'sms'),
    email: sender(options.email, 'email'),
    oob: {
      ttlSeconds: int(o.ttlSeconds, 'oob.ttlSeconds', 300, 60, 600),
      maxAttempts: int(o.maxAttempts, 'oob.maxAttempts', 5, 1, 10),
      resendCooldownSeconds: int(o.resendCooldownSeconds, 'oob.resendCooldownSeconds', 30, 0, 600),
      sendLimits: {
        perUserPerHour: int(o.sendLimits?.perUserPerHour, 'oob.sendLimits.perUserPerHour', 5, 1, 1000),
        perDestinationPerHour: int(o.sendLimits?.perDestinationPerHour, 'oob.sendLimits.perDestinationPerHour', 5, 1, 1000),
        perIpPerHour: int(o.sendLimits?.perIpPerHour, 'oob.sendLimits.perIpPerHour', 20, 1, 100000),
        globalPerHour: int(o.sendLimits?.globalPerHour, 'oob.sendLimits.globalPerHour', 1000, 1, 10_000_000),
      },
      allowedCountries: o.allowedCountries,
    },
    onEvent: options.onEvent,
    clock: options.clock ?? Date.now,
    random: options.random ?? defaultRandom,
  };
}
