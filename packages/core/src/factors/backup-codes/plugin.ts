// packages/core/src/factors/backup-codes/plugin.ts
// `backupCodes()`: recovery codes as a factor plugin. Not enrolled on their own: a set is issued
// with the user's first factor and regenerated with fresh proof (the plugin's `recovery` role).
// At login and for fresh proof each code works once; the set is stored as bcrypt hashes sharing
// one salt, so a guess costs one hash whether or not the user has codes.
import { MfaError } from '../../errors';
import type { FactorPlugin } from '../../factor-plugin';
import { checkKeys, int } from '../../option-checks';
import { findBackupCodeHash, generateBackupCodes, generateBcryptSalt, hashBackupCode, hashBackupCodeSet, normalizeBackupCode } from './backup-codes';

export interface BackupCodesOptions {
  /** Codes per set (default 10). */
  count?: number;
  /** bcrypt cost (default 10; tests may lower it). */
  bcryptCost?: number;
}

/**
 * Backup codes: 10 codes of 50 bits, shown once, stored only as bcrypt hashes.
 *
 * @example
 * createMfa({ ..., factors: [totp(), backupCodes({ count: 10 })] });
 */
export function backupCodes(options: BackupCodesOptions = {}): FactorPlugin {
  checkKeys(options, ['count', 'bcryptCost'], 'backupCodes');
  const count = int(options.count, 'backupCodes.count', 10, 5, 20);
  const bcryptCost = int(options.bcryptCost, 'backupCodes.bcryptCost', 10, 4, 15);

  return {
    type: 'backup_code',
    input: 'code',
    phishingResistant: false,
    restricted: false,

    parseInput({ code }) {
      const normalized = typeof code === 'string' ? normalizeBackupCode(code) : null;
      if (normalized === null) throw new MfaError('invalid_request', 'code must be a backup code like XXXXX-XXXXX', { field: 'code' });
      return normalized;
    },

    async offered(ctx, { userId }) {
      return ((await ctx.store.getBackupCodes(userId))?.hashes.length ?? 0) > 0;
    },

    async verify(ctx, { userId, input, purpose, req }) {
      const set = await ctx.store.getBackupCodes(userId);
      const salt = set?.salt ?? generateBcryptSalt(ctx.randomBytes, bcryptCost);
      const hash = await hashBackupCode(input as string, salt); // costs one hash whether or not a set exists
      const match = set ? findBackupCodeHash(hash, set.hashes) : null;
      if (!match) return { ok: false, reason: 'invalid_code' };
      return {
        ok: true,
        factorId: null,
        amr: ['otp'],
        async spend() {
          if (!(await ctx.store.consumeBackupCode(userId, match, ctx.now()))) return false;
          ctx.emit({ type: 'backup_code.used', userId, factorType: 'backup_code', outcome: 'success', purpose }, req);
          return true;
        },
      };
    },

    recovery: {
      async issue(ctx, { userId }) {
        const codes = generateBackupCodes(ctx.randomBytes, count);
        const salt = generateBcryptSalt(ctx.randomBytes, bcryptCost);
        await ctx.store.replaceBackupCodes(userId, { salt, hashes: await hashBackupCodeSet(codes, salt), createdAt: ctx.now() });
        return codes;
      },
      async remaining(ctx, { userId }) {
        return (await ctx.store.getBackupCodes(userId))?.hashes.length ?? 0;
      },
    },
  };
}
