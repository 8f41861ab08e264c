// packages/core/src/factors/oob/email.ts
// `email()`: codes by email.
import type { FactorPlugin } from '../../factor-plugin';
import { oobPlugin, type OobOptions } from './oob-plugin';
import { normalizeEmail } from './phone';
import { maskEmail } from './senders';

/**
 * Email codes over a `CodeSender` (e.g. `smtpEmail(...)` from @secondfactor/smtp).
 *
 * @example
 * createMfa({ ..., factors: [totp(), backupCodes(), email({ sender: smtpEmail({ transport, from }) })] });
 */
export function email(options: OobOptions): FactorPlugin {
  return oobPlugin({
    type: 'email', field: 'email', defaultLabel: 'Email', amr: ['otp'], restricted: false, unavailable: 'email_unavailable', providerName: 'email',
    normalize: normalizeEmail,
    mask: maskEmail,
    knownOptions: [],
  }, options);
}
