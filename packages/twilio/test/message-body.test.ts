// packages/twilio/test/message-body.test.ts
// The default SMS text stays within one segment, code first; the WebOTP line is last.
import type { CodeMessage } from '@secondfactor/core';
import { defaultSmsBody } from '../src/message-body';
import { fitsOneSegment, gsm7Septets } from '../src/sms-segments';

const base: CodeMessage = { to: '+14155550123', code: '842917', purpose: 'login', issuer: 'Acme' };

describe('SMS segments', () => {
  test('GSM-7 counts extension characters twice; other characters switch to UCS-2', () => {
    expect(gsm7Septets('abc 123')).toBe(7);
    expect(gsm7Septets('[€]')).toBe(6);
    expect(gsm7Septets('Zürich')).toBe(6);
    expect(gsm7Septets('Łódź')).toBeUndefined();
  });

  test('one segment: 160 GSM-7 septets or 70 UCS-2 units', () => {
    expect(fitsOneSegment('a'.repeat(160))).toBe(true);
    expect(fitsOneSegment('a'.repeat(161))).toBe(false);
    expect(fitsOneSegment('€'.repeat(80))).toBe(true);
    expect(fitsOneSegment('€'.repeat(81))).toBe(false);
    expect(fitsOneSegment('ł'.repeat(70))).toBe(true);
    expect(fitsOneSegment('ł'.repeat(71))).toBe(false);
  });
});

describe('defaultSmsBody', () => {
  test('login and enroll wording, code first', () => {
    expect(defaultSmsBody(base)).toBe('842917 is your Acme verification code.');
    expect(defaultSmsBody({ ...base, purpose: 'enroll' })).toBe('842917 is your Acme code to confirm this phone.');
  });

  test('WebOTP line only when a domain is given, as the last line', () => {
    expect(defaultSmsBody(base, 'example.com')).toBe('842917 is your Acme verification code.\n\n@example.com #842917');
    expect(defaultSmsBody(base).split('\n')).toHaveLength(1);
  });

  test('a long issuer is shortened so the SMS stays one segment', () => {
    const body = defaultSmsBody({ ...base, issuer: 'Acme Corporation International Holdings '.repeat(5) }, 'login.example.com');
    expect(fitsOneSegment(body)).toBe(true);
    expect(body.startsWith('842917 is your Acme Corporation')).toBe(true);
    expect(body.endsWith('verification code.\n\n@login.example.com #842917')).toBe(true);
  });

  test('a non-GSM issuer (UCS-2, 70 units) is shortened too', () => {
    const body = defaultSmsBody({ ...base, issuer: 'Łódzkie Przedsiębiorstwo Komunikacyjne Spółka Akcyjna' });
    expect(fitsOneSegment(body)).toBe(true);
    expect(body).toMatch(/^842917 is your Łódzkie .* verification code\.$/);
  });

  test('an empty issuer leaves a grammatical sentence', () => {
    expect(defaultSmsBody({ ...base, issuer: '' })).toBe('842917 is your verification code.');
  });
});
