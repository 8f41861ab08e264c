// packages/core/src/factors/backup-codes/backup-codes.ts
// Backup (recovery) codes: 10 Crockford base32 characters (50 bits) shown once as XXXXX-XXXXX,
// stored only as bcrypt hashes that share one salt per set, so checking a guess costs one hash
// however many codes remain.
import bcrypt from 'bcryptjs';
import { constantTimeEqual, randomString, type RandomSource } from '../../crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const BACKUP_CODE_LENGTH = 10;

/** `count` fresh codes, formatted `XXXXX-XXXXX`. */
export function generateBackupCodes(random: RandomSource, count: number): string[] {
  const codes = new Set<string>();
  while (codes.size < count) {
    const raw = randomString(random, CROCKFORD, BACKUP_CODE_LENGTH);
    codes.add(`${raw.slice(0, 5)}-${raw.slice(5)}`);
  }
  return [...codes];
}

/**
 * Canonical form of user input: case-insensitive, dashes and spaces ignored, Crockford's
 * look-alikes mapped (O→0, I/L→1). Null when it cannot be a backup code.
 */
export function normalizeBackupCode(input: string): string | null {
  if (typeof input !== 'string' || input.length > 32) return null;
  const compact = input.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (compact.length !== BACKUP_CODE_LENGTH) return null;
  for (const ch of compact) if (!CROCKFORD.includes(ch)) return null;
  return compact;
}

/** A bcrypt salt from the injected random source (bcryptjs' own base64 alphabet). */
export function generateBcryptSalt(random: RandomSource, cost: number): string {
  const encoded = bcrypt.encodeBase64(Array.from(random(16)), 16);
  return `$2b$${String(cost).padStart(2, '0')}$${encoded}`;
}

export function hashBackupCode(normalized: string, salt: string): Promise<string> {
  return bcrypt.hash(normalized, salt);
}

/** Hashes a whole set with one salt. */
export async function hashBackupCodeSet(codes: string[], salt: string): Promise<string[]> {
  const hashes: string[] = [];
  for (const code of codes) hashes.push(await hashBackupCode(normalizeBackupCode(code)!, salt));
  return hashes;
}

/**
 * The stored hash matching `candidateHash`, comparing against every stored hash in constant time
 * (the time does not depend on whether or which code matched).
 */
export function findBackupCodeHash(candidateHash: string, stored: string[]): string | null {
  let found: string | null = null;
  for (const h of stored) if (constantTimeEqual(candidateHash, h) && found === null) found = h;
  return found;
}
