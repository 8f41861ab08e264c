// packages/redis/src/keys.ts
// The key layout: `<keyPrefix><kind>:{<id>}`. The braces are a Redis Cluster hash tag, so the slot is
// chosen by the id alone, and everything one operation touches lives in one slot.

export interface KeyLayout {
  /** Hash, TTL from `createChallenge`. */
  challenge(id: string): string;
  /**
   * Hash, TTL from `putFactorState`. Kind `state`, not the `oob` of out-of-band codes before #10: a code
   * stored by an older version (no `type`, `codeHash` for `secret`) is never read as factor state.
   */
  factorState(key: string): string;
  /** String (integer), TTL set when created. */
  counter(key: string): string;
  /** Hash, no TTL. */
  attemptState(userId: string): string;
}

export function keyLayout(keyPrefix: string): KeyLayout {
  const key = (kind: string, id: string) => `${keyPrefix}${kind}:{${id}}`;
  return {
    challenge: (id) => key('challenge', id),
    factorState: (k) => key('state', k),
    counter: (k) => key('counter', k),
    attemptState: (userId) => key('attempts', userId),
  };
}
