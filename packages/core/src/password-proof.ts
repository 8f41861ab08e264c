// packages/core/src/password-proof.ts
// The host's password check as fresh proof. It is an object only this module can make, holding
// the host's check as a function: nothing parsed from request JSON can pass for it (a plain
// `{passwordVerified: true}` from `req.body` is refused), and core — not the host — runs the
// check, under the same attempt limits as codes, with the same failure events and lock.

const checks = new WeakMap<object, () => boolean | Promise<boolean>>();

declare const brand: unique symbol;

/** Fresh proof by the host's password check; make it with `passwordProof()`. */
export interface PasswordProof {
  readonly [brand]: 'PasswordProof';
}

/**
 * Wraps the host's password check as fresh proof. Core calls `check` once, counted by the
 * attempt limiter (a wrong password is a failed attempt; refused while the user is locked).
 * Accepted only where the host opted in to password proof (`disable` with `allowPassword`).
 *
 * @example
 * await mfa.disable(userId, passwordProof(() => users.checkPassword(userId, req.body.password)), ctx, { allowPassword: true });
 */
export function passwordProof(check: () => boolean | Promise<boolean>): PasswordProof {
  if (typeof check !== 'function') throw new TypeError('passwordProof(check): check must be a function returning true for the right password');
  const proof = Object.freeze(Object.create(null)) as PasswordProof;
  checks.set(proof, check);
  return proof;
}

/** The host's check inside a proof made by `passwordProof()`, or undefined for anything else. */
export function passwordCheckOf(proof: unknown): (() => boolean | Promise<boolean>) | undefined {
  return proof !== null && typeof proof === 'object' ? checks.get(proof) : undefined;
}
