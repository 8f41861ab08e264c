// packages/express/test/flow.test.ts
// The whole flow on Express 5, without express.json() installed, and with it.
import { hostApp } from './support/host-app';
import { wholeFlow } from './support/whole-flow';

describe('whole flow (Express 5)', () => {
  test('enrol, gate, verify, trusted device, step-up, backup codes, regenerate, remove, disable — router parses its own JSON', async () => {
    const host = hostApp({ json: false });
    await wholeFlow(host);
    expect(host.routerErrors).toEqual([]);
    expect(host.hostErrors).toEqual([]);
  });

  test('the same flow with express.json() installed by the host', async () => {
    const host = hostApp({ json: true });
    await wholeFlow(host, 'bob');
    expect(host.routerErrors).toEqual([]);
  });

  test('request context (ip, user agent) reaches core events', async () => {
    const host = hostApp();
    await wholeFlow(host, 'carol');
    const types = new Set(host.events.map((e) => e.type));
    for (const t of ['factor.enrolled', 'factor.confirmed', 'challenge.started', 'mfa.verified', 'device.trusted', 'backup_code.used',
      'backup_codes.regenerated', 'code.sent', 'factor.removed', 'mfa.disabled', 'mfa.failed', 'device.revoked']) {
      expect(types).toContain(t);
    }
    for (const e of host.events) {
      expect(e.userId).toBe('carol');
      expect(e.ip).toMatch(/127\.0\.0\.1$|^::1$/);
      expect(e.userAgent).toBe('secondfactor-test/1.0 (X11; Linux x86_64) Firefox/140.0');
    }
  });
});
