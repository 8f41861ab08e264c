// packages/core/src/factors/oob/phone.ts
// Phone numbers for SMS factors: parsed and normalised to E.164 with libphonenumber-js (full
// metadata, so the line type is known), fixed lines refused, optional country allowlist.
import type * as PhoneNumbers from 'libphonenumber-js/max';
import { MfaError } from '../../errors';

let phoneNumbers: typeof PhoneNumbers | undefined;

/**
 * libphonenumber-js's parser with its full metadata, loaded on first use: about 10 MiB of memory
 * that a server without SMS factors never needs (issue #13).
 */
export function parsePhoneNumber(text: string): PhoneNumbers.PhoneNumber | undefined {
  phoneNumbers ??= require('libphonenumber-js/max') as typeof PhoneNumbers;
  return phoneNumbers.parsePhoneNumberFromString(text);
}

export interface NormalizePhoneOptions {
  /** ISO 3166-1 alpha-2 codes; when set, other countries are refused. */
  allowedCountries?: readonly string[];
}

/** E.164 form of `input`, or `invalid_request` (field `phone`). */
export function normalizePhone(input: unknown, options: NormalizePhoneOptions = {}): { e164: string; country: string | undefined } {
  if (typeof input !== 'string' || input.length > 32 || !input.trim().startsWith('+')) {
    throw new MfaError('invalid_request', 'phone must be a string in international format, e.g. +14155550123', { field: 'phone' });
  }
  const parsed = parsePhoneNumber(input.trim());
  if (!parsed?.isValid()) {
    throw new MfaError('invalid_request', 'phone is not a valid phone number', { field: 'phone' });
  }
  const type = parsed.getType();
  if (type !== undefined && type !== 'MOBILE' && type !== 'FIXED_LINE_OR_MOBILE') {
    throw new MfaError('invalid_request', 'phone must be a mobile number', { field: 'phone' });
  }
  if (options.allowedCountries && (!parsed.country || !options.allowedCountries.includes(parsed.country))) {
    throw new MfaError('invalid_request', 'phone numbers from this country are not accepted', { field: 'phone' });
  }
  return { e164: parsed.number, country: parsed.country };
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}\.[^\s@]{2,63}$/;

/** Lower-cased, trimmed email address, or `invalid_request` (field `email`). */
export function normalizeEmail(input: unknown): string {
  if (typeof input !== 'string' || input.length > 254 || !EMAIL.test(input.trim())) {
    throw new MfaError('invalid_request', 'email must be an email address', { field: 'email' });
  }
  return input.trim().toLowerCase();
}
