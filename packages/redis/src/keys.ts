// packages/redis/src/keys.ts
// The key layout: `<keyPrefix><kind>:{<id>}`. The braces are a Redis Cluster hash tag, so the slot is
// chosen by the id alone, and everything one operation touches lives in one slot.

export interface KeyLayout {
  /** Hash, TTL from `createChallenge`. */
  challenge(id: string): string;
  /** Hash, TTL from `putOobCode`. */
  oobCode(key: string): string;
  /** String (integer), TTL set when created. */
  counter(key: string): string;
  /** Hash, no TTL. */
  attemptState(userId: string): string;
}

export function keyLayout(keyPrefix: string): KeyLayout {
  const key = (kind: string, id: string) => `${keyPrefix}${kind}:{${id}}`;
  return {
    challenge: (id) => key('challenge', id),
    oobCode: (k) => key('oob', k),
    counter: (k) => key('counter', k),
    attemptState: (userId) => key('attempts', userId),
  };
}
