// packages/webauthn/test/support/cbor.ts
// A tiny CBOR encoder (RFC 8949) for the software authenticator: unsigned and negative integers,
// byte strings, text strings, arrays and maps, in definite-length form. Map entries are written in
// the order given (callers pass them in CTAP2 canonical order), so the bytes are exactly what we chose.

export type CborValue = number | string | Uint8Array | CborValue[] | Map<number | string, CborValue>;

function head(major: number, value: number): number[] {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`cbor: cannot encode length/value ${value}`);
  const m = major << 5;
  if (value < 24) return [m | value];
  if (value < 0x100) return [m | 24, value];
  if (value < 0x10000) return [m | 25, value >> 8, value & 0xff];
  if (value < 0x100000000) return [m | 26, (value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
  throw new RangeError(`cbor: values of 2^32 and more are not needed here (got ${value})`);
}

function encodeInto(out: number[], value: CborValue): void {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`cbor: only integers are supported (got ${value})`);
    out.push(...(value >= 0 ? head(0, value) : head(1, -1 - value)));
  } else if (typeof value === 'string') {
    const bytes = new TextEncoder().encode(value);
    out.push(...head(3, bytes.length), ...bytes);
  } else if (value instanceof Uint8Array) {
    out.push(...head(2, value.length), ...value);
  } else if (Array.isArray(value)) {
    out.push(...head(4, value.length));
    for (const item of value) encodeInto(out, item);
  } else {
    out.push(...head(5, value.size));
    for (const [k, v] of value) {
      encodeInto(out, k);
      encodeInto(out, v);
    }
  }
}

export function encodeCbor(value: CborValue): Uint8Array {
  const out: number[] = [];
  encodeInto(out, value);
  return Uint8Array.from(out);
}

/** A CBOR map whose entries keep the given order. */
export function cborMap(entries: [number | string, CborValue][]): Map<number | string, CborValue> {
  return new Map(entries);
}
