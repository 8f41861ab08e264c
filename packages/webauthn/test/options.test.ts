// packages/webauthn/test/options.test.ts
// webauthn() checks its options when called, names the bad one, and builds the plugin's constants.
import { MfaConfigError } from '@secondfactor/core';
import { webauthn, type WebAuthnOptions } from '@secondfactor/webauthn';

const good = { rpId: 'example.com', rpName: 'Example', origins: ['https://example.com'] };

function optionError(options: unknown): MfaConfigError {
  try {
    webauthn(options as WebAuthnOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toBeInstanceOf(MfaConfigError);
    return error as MfaConfigError;
  }
  throw new Error('expected webauthn() to throw');
}

describe('webauthn options', () => {
  test('the plugin: type webauthn, input response, phishing-resistant, not restricted; setup, challenge and verify; no recovery role', () => {
    const plugin = webauthn(good);
    expect(plugin).toMatchObject({ type: 'webauthn', input: 'response', phishingResistant: true, restricted: false });
    expect(typeof plugin.enroll?.begin).toBe('function');
    expect(typeof plugin.challenge).toBe('function');
    expect(plugin.recovery).toBeUndefined();
    expect(plugin.offered).toBeUndefined();
  });

  test('valid forms', () => {
    expect(() => webauthn({ rpId: 'localhost', rpName: 'Dev', origins: ['http://localhost:3000', 'http://localhost'] })).not.toThrow();
    expect(() => webauthn({ rpId: 'example.com', rpName: 'Example', origins: ['https://example.com', 'https://login.example.com:8443'] })).not.toThrow();
    expect(() => webauthn({ ...good, userVerification: 'required', timeoutSeconds: 30, attestation: 'none' })).not.toThrow();
    expect(() => webauthn({ ...good, userVerification: 'discouraged', timeoutSeconds: 600 })).not.toThrow();
    expect(() => webauthn({ rpId: '127.0.0.1', rpName: 'Dev', origins: ['http://127.0.0.1:8080'] })).not.toThrow();
  });

  test.each<[string, unknown, RegExp]>([
    ['options', undefined, /must be an object/],
    ['options', 'example.com', /must be an object/],
    ['rpId', { ...good, rpId: undefined }, /host name/],
    ['rpId', { ...good, rpId: 'https://example.com' }, /no scheme, port or path/],
    ['rpId', { ...good, rpId: 'example.com:443' }, /host name/],
    ['rpId', { ...good, rpId: 'example.com/login' }, /host name/],
    ['rpId', { ...good, rpId: 'Example.com' }, /lower case/],
    ['rpId', { ...good, rpId: 'example.com.' }, /host name/],
    ['rpId', { ...good, rpId: '' }, /host name/],
    ['rpName', { ...good, rpName: undefined }, /non-empty/],
    ['rpName', { ...good, rpName: '  ' }, /non-empty/],
    ['rpName', { ...good, rpName: 'x'.repeat(101) }, /at most 100/],
    ['origins', { ...good, origins: undefined }, /non-empty array/],
    ['origins', { ...good, origins: [] }, /non-empty array/],
    ['origins', { ...good, origins: 'https://example.com' }, /non-empty array/],
    ['origins', { ...good, origins: [42] }, /origin strings/],
    ['origins', { ...good, origins: ['example.com'] }, /not an origin|exactly as a browser/],
    ['origins', { ...good, origins: ['https://example.com/'] }, /no trailing slash/],
    ['origins', { ...good, origins: ['https://example.com/login'] }, /no path/],
    ['origins', { ...good, origins: ['https://Example.com'] }, /lower case/],
    ['origins', { ...good, origins: ['https://example.com:443'] }, /no default port/],
    ['origins', { ...good, origins: ['http://example.com'] }, /must be https/],
    ['origins', { rpId: 'localhost', rpName: 'Dev', origins: ['http://localhost.example.com'] }, /must be https/],
    ['origins', { ...good, origins: ['https://evil.test'] }, /neither `rpId`/],
    ['origins', { ...good, origins: ['https://notexample.com'] }, /neither `rpId`/],
    ['origins', { ...good, origins: ['null'] }, /not an origin/],
    ['userVerification', { ...good, userVerification: 'always' }, /'required', 'preferred' or 'discouraged'/],
    ['timeoutSeconds', { ...good, timeoutSeconds: 29 }, /from 30 to 600/],
    ['timeoutSeconds', { ...good, timeoutSeconds: 601 }, /from 30 to 600/],
    ['timeoutSeconds', { ...good, timeoutSeconds: 60.5 }, /from 30 to 600/],
    ['timeoutSeconds', { ...good, timeoutSeconds: '300' }, /from 30 to 600/],
    ['attestation', { ...good, attestation: 'direct' }, /must be 'none'/],
    ['rpID', { ...good, rpID: 'example.com' }, /not a known option of webauthn\(\)\. Did you mean `rpId`\?/],
    ['origin', { ...good, origin: 'https://example.com' }, /Did you mean `origins`\?/],
    ['timeout', { ...good, timeout: 60 }, /is not a known option/],
    ['store', { ...good, store: {} }, /is not a known option of webauthn\(\)$/],
  ])('%s: %p → %p', (option, options, message) => {
    const error = optionError(options);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(message);
  });
});
