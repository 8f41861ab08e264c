// packages/webauthn/test/parse-input.test.ts
// parseInput and what follows it never let a malformed response through as anything but
// `MfaError('invalid_request', …, {field: 'response'})` (a 400) or a failure value — never a
// TypeError or another error (a 500): bad JSON shapes, bad base64url, malformed CBOR, truncated
// authenticator data, oversized fields.
import { MfaError } from '@secondfactor/core';
import fc from 'fast-check';
import { cborMap, encodeCbor } from './support/cbor';
import { Driver, ORIGIN, testContext } from './support/harness';
import { SoftAuthenticator } from './support/soft-authenticator';

const b64u = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');
type Json = Record<string, unknown>;

async function fixtures() {
  const { ctx } = testContext();
  const driver = new Driver(ctx);
  const key = new SoftAuthenticator();
  const s = await driver.setup('alice');
  const registration = key.create(s.options, { origin: ORIGIN });
  const fresh = await driver.setup('alice');
  const freshRegistration = new SoftAuthenticator().create(fresh.options, { origin: ORIGIN });
  await driver.confirm(s.factor, registration, s.state);
  const c = await driver.challenge('alice');
  const assertion = key.get(c.options, { origin: ORIGIN });
  return { driver, registration: freshRegistration, enrolment: fresh, assertion, loginState: c.state };
}

function invalidRequest(fn: () => unknown, message?: RegExp): MfaError {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(MfaError);
  expect(error).toMatchObject({ code: 'invalid_request', field: 'response' });
  if (message) expect((error as Error).message).toMatch(message);
  return error as MfaError;
}

const clone = <T>(v: T): T => structuredClone(v);
function withField(base: unknown, path: string[], value: unknown): Json {
  const copy = clone(base) as Json;
  let target = copy;
  for (const p of path.slice(0, -1)) target = target[p] as Json;
  if (value === undefined) delete target[path.at(-1)!];
  else target[path.at(-1)!] = value;
  return copy;
}

describe('webauthn parseInput: JSON shape', () => {
  test('well-formed responses parse, into copies holding only checked fields', async () => {
    const { driver, registration, assertion, enrolment } = await fixtures();
    expect(driver.parseInput({ response: registration }, [enrolment.factor])).toEqual({ kind: 'registration', json: registration });
    expect(driver.parseInput({ response: assertion })).toEqual({ kind: 'authentication', json: assertion });
    const parsed = driver.parseInput({ response: assertion }) as { json: unknown };
    expect(parsed.json).not.toBe(assertion);
  });

  test('the ceremony must be the step\'s: a registration only when confirming (the pending factor given), an assertion only otherwise', async () => {
    const { driver, registration, assertion, enrolment } = await fixtures();
    const active = driver.factorsOf('alice');
    expect(active).toHaveLength(1);
    invalidRequest(() => driver.parseInput({ response: registration }), /must be a registration|must be an authentication/);
    invalidRequest(() => driver.parseInput({ response: registration }, active), /must be an authentication/);
    invalidRequest(() => driver.parseInput({ response: assertion }, [enrolment.factor]), /must be a registration/);
    expect(driver.parseInput({ response: assertion }, active)).toMatchObject({ kind: 'authentication' });
  });

  test('the browser’s optional extras (L3 toJSON) are accepted: authenticatorData, publicKey, publicKeyAlgorithm; null userHandle and attachment', async () => {
    const { driver, registration, assertion, enrolment } = await fixtures();
    const attestation = withField(registration, ['response', 'publicKeyAlgorithm'], -7);
    attestation.response = { ...(attestation.response as Json), publicKey: b64u('spki'), authenticatorData: b64u(new Uint8Array(37)) };
    expect(driver.parseInput({ response: attestation }, [enrolment.factor])).toMatchObject({ kind: 'registration' });
    expect(driver.parseInput({ response: withField(withField(assertion, ['response', 'userHandle'], null), ['authenticatorAttachment'], null) })).toMatchObject({
      kind: 'authentication',
    });
  });

  test.each<[string, (a: Json) => unknown, RegExp]>([
    ['no response', () => undefined, /PublicKeyCredential/],
    ['a string', () => 'response', /PublicKeyCredential/],
    ['an array', () => [], /PublicKeyCredential/],
    ['null', () => null, /PublicKeyCredential/],
    ['an unknown top-level field', (a) => ({ ...a, extra: 1 }), /unexpected field "extra"/],
    ['an unknown response field', (a) => withField(a, ['response', 'foo'], 'x'), /unexpected field "foo"/],
    ['no id', (a) => withField(a, ['id'], undefined), /id must be a base64url string/],
    ['a numeric id', (a) => withField(a, ['id'], 12), /id must be a base64url string/],
    ['an empty id', (a) => ({ ...a, id: '', rawId: '' }), /id must be 1 to/],
    ['an id with padding', (a) => ({ ...a, id: `${a.id}=`, rawId: `${a.id}=` }), /base64url/],
    ['an id in base64 (+/)', (a) => ({ ...a, id: 'ab+/', rawId: 'ab+/' }), /base64url/],
    ['a non-canonical base64url id', (a) => ({ ...a, id: 'AB', rawId: 'AB' }), /base64url/],
    ['an id over 1023 bytes', (a) => ({ ...a, id: 'A'.repeat(1368), rawId: 'A'.repeat(1368) }), /id must be 1 to/],
    ['rawId ≠ id', (a) => withField(a, ['rawId'], 'AAAA'), /rawId must equal id/],
    ['type not public-key', (a) => withField(a, ['type'], 'password'), /type must be "public-key"/],
    ['no clientExtensionResults', (a) => withField(a, ['clientExtensionResults'], undefined), /clientExtensionResults/],
    ['clientExtensionResults an array', (a) => withField(a, ['clientExtensionResults'], []), /clientExtensionResults/],
    ['huge clientExtensionResults', (a) => withField(a, ['clientExtensionResults'], { x: 'y'.repeat(5000) }), /clientExtensionResults/],
    ['authenticatorAttachment unknown', (a) => withField(a, ['authenticatorAttachment'], 'usb'), /authenticatorAttachment/],
    ['response.response a string', (a) => withField(a, ['response'], 'x'), /response\.response must be an object/],
    ['no clientDataJSON', (a) => withField(a, ['response', 'clientDataJSON'], undefined), /clientDataJSON/],
    ['clientDataJSON not JSON', (a) => withField(a, ['response', 'clientDataJSON'], b64u('{"type":')), /not UTF-8 JSON/],
    ['clientDataJSON not UTF-8', (a) => withField(a, ['response', 'clientDataJSON'], b64u(Uint8Array.of(0xff, 0xfe, 0x7b))), /not UTF-8 JSON/],
    ['clientDataJSON a JSON array', (a) => withField(a, ['response', 'clientDataJSON'], b64u('[1]')), /not a JSON object/],
    ['clientDataJSON without challenge', (a) => withField(a, ['response', 'clientDataJSON'], b64u('{"type":"webauthn.get","origin":"x"}')), /"challenge"/],
    ['clientDataJSON with a numeric origin', (a) => withField(a, ['response', 'clientDataJSON'], b64u('{"type":"webauthn.get","challenge":"x","origin":1}')), /"origin"/],
    ['clientDataJSON too long', (a) => withField(a, ['response', 'clientDataJSON'], 'A'.repeat(8196)), /clientDataJSON must be/],
    ['no authenticatorData', (a) => withField(a, ['response', 'authenticatorData'], undefined), /authenticatorData/],
    ['authenticatorData too short (36 bytes)', (a) => withField(a, ['response', 'authenticatorData'], b64u(new Uint8Array(36))), /authenticatorData/],
    ['authenticatorData with leftover bytes', (a) => withField(a, ['response', 'authenticatorData'], b64u(new Uint8Array(38))), /not valid authenticator data/],
    [
      'authenticatorData claiming extensions it lacks',
      (a) => withField(a, ['response', 'authenticatorData'], b64u(Uint8Array.from([...new Uint8Array(32), 0x81, 0, 0, 0, 1]))),
      /not valid authenticator data/,
    ],
    [
      'authenticatorData claiming attested data it lacks',
      (a) => withField(a, ['response', 'authenticatorData'], b64u(Uint8Array.from([...new Uint8Array(32), 0x41, 0, 0, 0, 1, 9, 9]))),
      /not valid authenticator data/,
    ],
    ['no signature', (a) => withField(a, ['response', 'signature'], undefined), /signature/],
    ['an empty signature', (a) => withField(a, ['response', 'signature'], ''), /signature must be 1 to/],
    ['a numeric userHandle', (a) => withField(a, ['response', 'userHandle'], 5), /userHandle/],
    ['a userHandle over 64 bytes', (a) => withField(a, ['response', 'userHandle'], 'A'.repeat(88)), /userHandle/],
  ])('assertion: %s → invalid_request', async (_name, mutate, message) => {
    const { driver, assertion } = await fixtures();
    invalidRequest(() => driver.parseInput({ response: mutate(clone(assertion) as unknown as Json) }), message);
  });

  const cbor = (value: Parameters<typeof encodeCbor>[0]) => b64u(encodeCbor(value));
  test.each<[string, (a: Json) => unknown, RegExp]>([
    ['attestationObject not base64url', (a) => withField(a, ['response', 'attestationObject'], '***'), /attestationObject is not unpadded base64url/],
    ['attestationObject empty', (a) => withField(a, ['response', 'attestationObject'], ''), /attestationObject must be 1 to/],
    ['attestationObject over the cap', (a) => withField(a, ['response', 'attestationObject'], 'A'.repeat(65540)), /attestationObject must be 1 to/],
    ['attestationObject truncated CBOR', (a) => withField(a, ['response', 'attestationObject'], b64u(Uint8Array.of(0xa3, 0x63, 0x66))), /not a valid CBOR attestation object/],
    ['attestationObject a CBOR text string', (a) => withField(a, ['response', 'attestationObject'], cbor('fmt')), /not a valid CBOR/],
    ['attestationObject a CBOR array', (a) => withField(a, ['response', 'attestationObject'], cbor([1, 2])), /not a valid CBOR/],
    ['attestationObject reserved CBOR bytes', (a) => withField(a, ['response', 'attestationObject'], b64u(Uint8Array.of(0xfc, 0xfd, 0xfe))), /not a valid CBOR/],
    ['attestationObject claiming a huge byte string', (a) => withField(a, ['response', 'attestationObject'], b64u(Uint8Array.of(0x5a, 0xff, 0xff, 0xff, 0xff, 1))), /not a valid CBOR/],
    ['attestationObject deeply nested arrays', (a) => withField(a, ['response', 'attestationObject'], b64u(new Uint8Array(40000).fill(0x81))), /not a valid CBOR/],
    [
      'attestationObject without authData',
      (a) => withField(a, ['response', 'attestationObject'], cbor(cborMap([['fmt', 'none'], ['attStmt', cborMap([])]]))),
      /not a valid CBOR/,
    ],
    [
      'attestationObject with authData a text string',
      (a) => withField(a, ['response', 'attestationObject'], cbor(cborMap([['fmt', 'none'], ['attStmt', cborMap([])], ['authData', 'x']]))),
      /not a valid CBOR/,
    ],
    [
      'authData without attested credential data',
      (a) => withField(a, ['response', 'attestationObject'], cbor(cborMap([['fmt', 'none'], ['attStmt', cborMap([])], ['authData', new Uint8Array(37).fill(1, 32, 33)]]))),
      /not a valid CBOR/,
    ],
    [
      'authData whose credential public key is not CBOR',
      (a) => {
        const authData = Uint8Array.from([...new Uint8Array(32), 0x45, 0, 0, 0, 0, ...new Uint8Array(16), 0, 4, 1, 2, 3, 4, 0xff]);
        return withField(a, ['response', 'attestationObject'], cbor(cborMap([['fmt', 'none'], ['attStmt', cborMap([])], ['authData', authData]])));
      },
      /not a valid CBOR/,
    ],
    [
      'authData whose credential public key is a CBOR integer',
      (a) => {
        const authData = Uint8Array.from([...new Uint8Array(32), 0x45, 0, 0, 0, 0, ...new Uint8Array(16), 0, 4, 1, 2, 3, 4, 0x01]);
        return withField(a, ['response', 'attestationObject'], cbor(cborMap([['fmt', 'none'], ['attStmt', cborMap([])], ['authData', authData]])));
      },
      /not a valid CBOR/,
    ],
    ['transports not an array', (a) => withField(a, ['response', 'transports'], 'usb'), /transports/],
    ['transports with a number', (a) => withField(a, ['response', 'transports'], ['usb', 1]), /transports/],
    ['transports with junk', (a) => withField(a, ['response', 'transports'], ['USB!']), /transports/],
    ['publicKeyAlgorithm a string', (a) => withField(a, ['response', 'publicKeyAlgorithm'], '-7'), /publicKeyAlgorithm/],
    ['registration authenticatorData malformed', (a) => withField(a, ['response', 'authenticatorData'], b64u(new Uint8Array(10))), /authenticatorData/],
  ])('registration: %s → invalid_request', async (_name, mutate, message) => {
    const { driver, registration, enrolment } = await fixtures();
    invalidRequest(() => driver.parseInput({ response: mutate(clone(registration) as unknown as Json) }, [enrolment.factor]), message);
  });

  test('what no JSON body holds (a class instance, a throwing getter, a cycle, a proxy) is invalid_request, not a TypeError', async () => {
    const { driver, assertion } = await fixtures();
    class Credential {}
    invalidRequest(() => driver.parseInput({ response: new Credential() }));
    invalidRequest(() => driver.parseInput(undefined as never));
    const getter = clone(assertion) as unknown as Json;
    Object.defineProperty(getter, 'id', {
      enumerable: true,
      get() {
        throw new TypeError('boom');
      },
    });
    invalidRequest(() => driver.parseInput({ response: getter }), /could not be read/);
    const cycle: Json = {};
    cycle.self = cycle;
    invalidRequest(() => driver.parseInput({ response: withField(assertion, ['clientExtensionResults'], cycle) }), /could not be read/);
    const trap = new Proxy(clone(assertion) as unknown as Json, {
      ownKeys() {
        throw new RangeError('trap');
      },
    });
    invalidRequest(() => driver.parseInput({ response: trap }), /could not be read/);
  });
});

describe('webauthn: mutated bytes never escape as another error', () => {
  const isAllowedError = (e: unknown) => e instanceof MfaError && e.code === 'invalid_request' && e.field === 'response';

  test('random byte flips and truncations in an assertion: invalid_request, or a failure value from verify', async () => {
    const { driver, assertion, loginState } = await fixtures();
    const fields = ['clientDataJSON', 'authenticatorData', 'signature'] as const;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...fields), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean(), async (field, at, byte, truncate) => {
        const bytes = Buffer.from(assertion.response[field], 'base64url');
        const i = at % bytes.length;
        const mutated = truncate ? bytes.subarray(0, i) : Buffer.from(bytes).fill(byte, i, i + 1);
        const response = withField(assertion, ['response', field], mutated.toString('base64url'));
        try {
          const result = await driver.verify('alice', response, loginState);
          // A flip the signature does not cover cannot exist; only an unchanged byte may pass.
          if (result.ok) expect(mutated.equals(bytes)).toBe(true);
        } catch (error) {
          if (!isAllowedError(error)) throw error;
        }
      }),
      { numRuns: 300, seed: 20261130 },
    );
  });

  test('random byte flips and truncations in an attestation object: invalid_request, or a failure value from finish', async () => {
    const { driver, registration, enrolment } = await fixtures();
    const original = Buffer.from(registration.response.attestationObject, 'base64url');
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean(), async (at, byte, truncate) => {
        const i = at % original.length;
        const mutated = truncate ? original.subarray(0, i) : Buffer.from(original).fill(byte, i, i + 1);
        const response = withField(registration, ['response', 'attestationObject'], mutated.toString('base64url'));
        try {
          const input = driver.parseInput({ response }, [enrolment.factor]);
          await driver.plugin.enroll!.finish(driver.ctx, { userId: 'alice', factor: enrolment.factor, input, state: enrolment.state });
        } catch (error) {
          if (!isAllowedError(error)) throw error;
        }
      }),
      { numRuns: 300, seed: 20261130 },
    );
  });
});
