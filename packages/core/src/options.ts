// packages/core/src/options.ts
// createMfa's options: validated once, with errors that name the option, then frozen defaults.
import { assertStoreShape } from './compose-stores';
import { defaultRandom, type RandomSource } from './crypto';
import { MfaConfigError } from './errors';
import type { EventSink } from './events';
import { resolveSigningKey, type SigningKey } from './assertions';
import type { FactorPlugin } from './factor-plugin';
import { checkKeys, int } from './option-checks';
import { decodeKey, type EncryptionKeys } from './secret-box';
import { DURABLE_METHODS, EPHEMERAL_METHODS, type MfaStore } from './store';

export interface MfaOptions {
  /** Shown in authenticator apps and messages. No ":". */
  issuer: string;
  store: MfaStore;
  encryptionKeys: EncryptionKeys;
  signingKey: SigningKey;
  /**
   * The factor types this server offers, as plugins, in the order they are offered:
   * `[totp(), sms({ sender }), backupCodes()]`, plus plugins from other packages or your own.
   * Default `[totp(), backupCodes()]`. Each plugin validates its own options in its factory.
   */
  factors?: FactorPlugin[];
  /** A login challenge lives `ttlSeconds` (default 300); at most `maxAttempts` wrong answers (default 5) per challenge, and per code sent or security-key challenge. */
  challenge?: { ttlSeconds?: number; maxAttempts?: number };
  /** A factor set up but not confirmed within `pendingTtlSeconds` (default 600) is dropped. */
  enrollment?: { pendingTtlSeconds?: number };
  trustedDevices?: { ttlSeconds?: number };
  assertion?: { audience?: string; ttlSeconds?: number };
  limits?: { backoffAfterFailures?: number; backoffBaseSeconds?: number; backoffMaxSeconds?: number; lockAfterFailures?: number; perIpPerWindow?: number; ipWindowSeconds?: number };
  onEvent?: EventSink;
  /**
   * The durable audit log: every event is also stored by the durable store (default), and an
   * operation whose event cannot be stored fails with `store_unavailable`. `{ store: false }` keeps
   * events to `onEvent` only.
   */
  audit?: { store?: boolean };
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
  factors: FactorPlugin[] | undefined;
  challenge: { ttlSeconds: number; maxAttempts: number };
  enrollment: { pendingTtlSeconds: number };
  trustedDevices: { ttlSeconds: number };
  assertion: { audience: string; ttlSeconds: number };
  limits: { backoffAfterFailures: number; backoffBaseSeconds: number; backoffMaxSeconds: number; lockAfterFailures: number; perIpPerWindow: number; ipWindowSeconds: number };
  onEvent: EventSink | undefined;
  audit: { store: boolean };
  clock: () => number;
  random: RandomSource;
}

const TOP_LEVEL = ['issuer', 'store', 'encryptionKeys', 'signingKey', 'factors', 'challenge', 'enrollment', 'trustedDevices', 'assertion', 'limits', 'onEvent', 'audit', 'clock', 'random'];
/** Options that moved into a factor plugin's factory: a clear error instead of "unknown option". */
const MOVED: Record<string, string> = {
  totp: 'factors: [totp({ ... })]', backupCodes: 'factors: [backupCodes({ ... })]', sms: 'factors: [sms({ sender, ... })]',
  email: 'factors: [email({ sender, ... })]', oob: 'the options of sms({ ... }) and email({ ... })',
};

export function resolveOptions(options: MfaOptions): ResolvedOptions {
  if (!options || typeof options !== 'object') throw new MfaConfigError('options', 'must be an object');
  for (const [key, where] of Object.entries(MOVED)) {
    if (Object.hasOwn(options, key)) throw new MfaConfigError(key, `is now an option of its factor plugin: ${where}`);
  }
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
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') throw new MfaConfigError('onEvent', 'must be a function');
  checkKeys(options.audit, ['store'], 'audit');
  if (options.audit?.store !== undefined && typeof options.audit.store !== 'boolean') throw new MfaConfigError('audit.store', 'must be a boolean');
  if (options.clock !== undefined && typeof options.clock !== 'function') throw new MfaConfigError('clock', 'must be a function returning epoch milliseconds');
  if (options.random !== undefined && typeof options.random !== 'function') throw new MfaConfigError('random', 'must be a function (n) => Uint8Array');
  const lockAfter = int(l.lockAfterFailures, 'limits.lockAfterFailures', 100, 1, 100);
  const backoffAfter = int(l.backoffAfterFailures, 'limits.backoffAfterFailures', 5, 1, 100);

  return {
    issuer: issuer.trim(),
    store: options.store,
    encryptionKeys: ek,
    signingKey: options.signingKey,
    factors: options.factors,
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
    onEvent: options.onEvent,
    audit: { store: options.audit?.store ?? true },
    clock: options.clock ?? Date.now,
    random: options.random ?? defaultRandom,
  };
}
