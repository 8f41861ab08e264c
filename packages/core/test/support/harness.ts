// Test harness for core: a fake clock, a recording event sink, fixed keys, and a ready engine.
import { createHash } from 'node:crypto';
import {
  backupCodes, createMfa, email, generateTotp, memoryStore, sms, totp,
  type CodeMessage, type CodeSender, type MfaEvent, type MfaOptions, type MfaStore, type OobOptions, type SmsOptions, type TotpOptions,
} from '@secondfactor/core';

export const KEY_1 = Buffer.alloc(32, 1).toString('base64');
export const KEY_2 = Buffer.alloc(32, 2).toString('base64');
export const SIGNING_KEY = 'test-signing-key-with-at-least-32-characters!';

/** A clock the test moves by hand. Starts at 2026-01-01T00:00:10Z (inside a 30 s step). */
export function fakeClock(start = Date.UTC(2026, 0, 1, 0, 0, 10)) {
  let t = start;
  return {
    now: () => t,
    advance(seconds: number) {
      t += seconds * 1000;
    },
    set(ms: number) {
      t = ms;
    },
  };
}

/**
 * What a test may change: any createMfa option, or — instead of `factors` — the options of the
 * built-in plugins (`totp`, `sms`/`email` senders with shared `oob` options), from which the
 * harness builds `factors: [totp(), sms(), email(), backupCodes({bcryptCost: 4})]`.
 */
export type SetupOverrides = Partial<MfaOptions> & {
  totp?: TotpOptions;
  sms?: CodeSender;
  email?: CodeSender;
  oob?: Omit<OobOptions, 'sender'> & Pick<SmsOptions, 'allowedCountries'>;
};

export function setup(overrides: SetupOverrides = {}) {
  const clock = fakeClock();
  const events: MfaEvent[] = [];
  const { totp: totpOptions, sms: smsSender, email: emailSender, oob, ...options } = overrides;
  const store: MfaStore = options.store ?? memoryStore();
  const { allowedCountries, ...oobOptions } = oob ?? {};
  const factors = options.factors ?? [
    totp(totpOptions),
    ...(smsSender ? [sms({ sender: smsSender, ...oobOptions, ...(allowedCountries ? { allowedCountries } : {}) })] : []),
    ...(emailSender ? [email({ sender: emailSender, ...oobOptions })] : []),
    backupCodes({ bcryptCost: 4 }),
  ];
  const mfa = createMfa({
    issuer: 'Acme Co',
    store,
    encryptionKeys: { current: 'k1', keys: { k1: KEY_1 } },
    signingKey: SIGNING_KEY,
    clock: clock.now,
    onEvent: (e) => {
      events.push(e);
    },
    ...options,
    factors,
  });
  return { mfa, clock, events, store };
}

/** Enrols and confirms a TOTP factor; returns its secret and the backup codes. */
export async function enrolTotp(h: ReturnType<typeof setup>, userId = 'alice') {
  const e = await h.mfa.enroll(userId, 'totp', { label: 'Phone', accountName: `${userId}@example.com` });
  const code = await generateTotp(e.secret, h.clock.now(), { algorithm: 'SHA1', digits: 6, periodSeconds: 30 });
  const r = await h.mfa.confirm(userId, e.factorId, { code: code });
  if (!r.ok) throw new Error(`confirm failed: ${r.reason}`);
  // Move to the next step so the confirming code's step is behind us.
  h.clock.advance(30);
  return { secret: e.secret, factorId: e.factorId, backupCodes: r.backupCodes ?? [], enrollment: e };
}

export const totpNow = (secret: string, nowMs: number) => generateTotp(secret, nowMs, { algorithm: 'SHA1', digits: 6, periodSeconds: 30 });

/** The login challenge of a user with MFA on (fails the test if none was required). */
export async function challengeFor(h: ReturnType<typeof setup>, userId = 'alice') {
  const start = await h.mfa.login.start(userId);
  if (!start.required) throw new Error('expected a challenge');
  return start;
}

/** The stored id of a challenge token (its SHA-256, base64url). */
export const challengeIdOf = (token: string) => createHash('sha256').update(token).digest('base64url');

/** Fresh proof for a user who already has MFA on: a just-issued assertion (as after a step-up). */
export async function proofFor(h: ReturnType<typeof setup>, userId = 'alice') {
  return { assertion: (await h.mfa.assertions.issue(userId, ['otp'])).assertion };
}

/** A valid US number (FIXED_LINE_OR_MOBILE) for SMS factors. */
export const PHONE = '+14155550123';

/**
 * `setup()` with SMS through a recording sender (`sent`). `clockedStore`: the memory store drops
 * entries by the engine's own (fake) clock, so store TTLs can be checked by moving it.
 */
export function smsSetup(overrides: SetupOverrides = {}, { clockedStore = false } = {}) {
  const sent: CodeMessage[] = [];
  const sender: CodeSender = { send: async (m) => void sent.push(m) };
  let now = () => 0;
  const h = setup({ sms: sender, ...(clockedStore ? { store: memoryStore({ physicalNow: () => now() }) } : {}), ...overrides });
  now = h.clock.now;
  return { ...h, sent };
}

/** Enrols and confirms an SMS factor with the code just sent; returns its id. */
export async function enrolSms(h: ReturnType<typeof smsSetup>, userId = 'alice', phone = PHONE, proof?: { assertion: string }) {
  const { factorId } = await h.mfa.enroll(userId, 'sms', { input: { phone }, ...(proof ? { proof } : {}) });
  const r = await h.mfa.confirm(userId, factorId, { code: h.sent.at(-1)!.code });
  if (!r.ok) throw new Error(`confirm failed: ${r.reason}`);
  h.clock.advance(31);
  return factorId;
}

/**
 * `inner` with a race to lose: once `armRace()` was called, the next `takeChallenge` is followed by
 * someone else spending every backup code `userId` had at that moment — a backup code that loses
 * its race after its own request took the challenge.
 */
export function storeLosingBackupCodeRace(inner: MfaStore, userId = 'alice') {
  let spend: (() => Promise<void>) | undefined;
  const store: MfaStore = {
    ...inner,
    takeChallenge: async (id) => {
      const taken = await inner.takeChallenge(id);
      await spend?.();
      return taken;
    },
  };
  async function armRace() {
    const set = (await inner.getBackupCodes(userId))!;
    spend = async () => {
      spend = undefined;
      for (const hash of set.hashes) await inner.consumeBackupCode(userId, hash, 0);
    };
  }
  return { store, armRace };
}
