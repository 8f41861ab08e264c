// A server pays in memory only for what it uses (issue #13): loading the packages and verifying
// TOTP logins never loads libphonenumber-js (its full metadata is ~10 MiB in memory) or qrcode;
// the first phone number loads the one, the first QR code read the other. Built dist, in a fresh
// process, so nothing another test loaded counts.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const SCRIPT = `
const { createMfa, memoryStore, totp, backupCodes, sms, generateTotp } = require('@secondfactor/core');
require('@secondfactor/express');
const loaded = (name) => Object.keys(require.cache).some((p) => p.includes('/node_modules/' + name + '/'));
const seen = {};
(async () => {
  let t = Date.UTC(2026, 0, 1);
  const sent = [];
  const mfa = createMfa({
    issuer: 'Lazy', store: memoryStore(), clock: () => t, encryptionKeys: { current: 'k', keys: { k: Buffer.alloc(32, 1).toString('base64') } },
    signingKey: 'lazy-modules-signing-key-0123456789abcdef', factors: [totp(), backupCodes({ bcryptCost: 4 }), sms({ sender: { send: async (m) => void sent.push(m) } })],
  });
  seen.atStart = { phone: loaded('libphonenumber-js'), qrcode: loaded('qrcode') };
  const e = await mfa.enroll('u1', 'totp');
  await mfa.confirm('u1', e.factorId, { code: await generateTotp(e.secret, t, { algorithm: 'SHA1', digits: 6, periodSeconds: 30 }) });
  t += 30000;
  const s = await mfa.login.start('u1');
  const r = await mfa.login.verify(s.challengeToken, { method: 'totp', code: await generateTotp(e.secret, t, { algorithm: 'SHA1', digits: 6, periodSeconds: 30 }) });
  seen.afterTotpLogin = { ok: r.ok, phone: loaded('libphonenumber-js'), qrcode: loaded('qrcode') };
  void e.qrCode;
  seen.afterQrRead = { qrcode: loaded('qrcode'), png: e.qrCode.startsWith('data:image/png;base64,') };
  await mfa.enroll('u1', 'sms', { input: { phone: '+14155550123' }, proof: { assertion: r.assertion } });
  seen.afterSms = { phone: loaded('libphonenumber-js'), sent: sent.length };
  console.log(JSON.stringify(seen));
})().catch((error) => { console.error(error); process.exit(1); });
`;

const built = ['core', 'express'].every((p) => existsSync(join(ROOT, 'packages', p, 'dist', 'index.js')));
if (!built && !process.env.CI) console.warn('\n!!! SKIPPED lazy-module checks: packages are not built (run `pnpm exec tsc -b`)\n');
(built || process.env.CI ? describe : describe.skip)('modules loaded on first use (built dist)', () => {
  test('phone metadata and the QR encoder load only when a phone number or a QR code is needed', () => {
    const out = execFileSync(process.execPath, ['-e', SCRIPT], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({
      atStart: { phone: false, qrcode: false },
      afterTotpLogin: { ok: true, phone: false, qrcode: false },
      afterQrRead: { qrcode: true, png: true },
      afterSms: { phone: true, sent: 1 },
    });
  });
});
