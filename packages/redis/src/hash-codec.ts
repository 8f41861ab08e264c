// packages/redis/src/hash-codec.ts
// Records ↔ Redis hashes: one field per property, each value JSON-encoded, so every record round-trips
// exactly (numbers stay numbers, `null` stays null, arrays stay arrays) and Lua can HINCRBY an integer.

/** `[field, value, field, value...]` for HSET; properties whose value is `undefined` are left out, as JSON does. */
export function encodeHash(record: object): string[] {
  const args: string[] = [];
  for (const [field, value] of Object.entries(record)) {
    if (value === undefined) continue;
    args.push(field, JSON.stringify(value));
  }
  return args;
}

/** The record stored by `encodeHash`, or null for a missing key (HGETALL returns no fields). */
export function decodeHash<T>(fields: Record<string, string>): T | null {
  const entries = Object.entries(fields);
  if (entries.length === 0) return null;
  const record: Record<string, unknown> = {};
  for (const [field, value] of entries) {
    Object.defineProperty(record, field, { value: JSON.parse(value), enumerable: true, writable: true, configurable: true });
  }
  return record as T;
}

/** One value as `encodeHash` stores it, for comparisons inside Lua scripts. */
export const encodeField = (value: unknown): string => JSON.stringify(value);
