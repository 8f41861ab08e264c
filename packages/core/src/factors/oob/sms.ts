// packages/core/src/factors/oob/sms.ts
// `sms()`: codes by text message — a NIST "restricted" authenticator, offered with that label.
import type { FactorPlugin } from '../../factor-plugin';
import { MfaConfigError } from '../../errors';
import { oobPlugin, type OobOptions } from './oob-plugin';
import { normalizePhone } from './phone';
import { maskPhone } from './senders';

export interface SmsOptions extends OobOptions {
  /** ISO 3166-1 alpha-2 countries numbers may belong to (default: any). */
  allowedCountries?: string[];
}

/**
 * SMS codes over a `CodeSender` (e.g. `twilioSms(...)` from @secondfactor/twilio).
 *
 * @example
 * createMfa({ ..., factors: [totp(), backupCodes(), sms({ sender: twilioSms({ accountSid, authToken, from }) })] });
 */
export function sms(options: SmsOptions): FactorPlugin {
  const allowedCountries = options?.allowedCountries;
  if (allowedCountries !== undefined && (!Array.isArray(allowedCountries) || !allowedCountries.every((x) => typeof x === 'string' && /^[A-Z]{2}$/.test(x)))) {
    throw new MfaConfigError('sms.allowedCountries', 'must be an array of ISO 3166-1 alpha-2 codes such as "US"');
  }
  return oobPlugin({
    type: 'sms', field: 'phone', defaultLabel: 'Phone', amr: ['sms'], restricted: true, unavailable: 'sms_unavailable', providerName: 'SMS',
    normalize: (input) => normalizePhone(input, allowedCountries ? { allowedCountries } : {}).e164,
    mask: maskPhone,
    knownOptions: ['allowedCountries'],
  }, options);
}
