// examples/oidc-api/test/provider.mjs
// A real OpenID Connect provider (oidc-provider) on loopback, for the tests and for trying the
// example locally: `node examples/oidc-api/test/provider.mjs` (PORT, default 0 = any free port).
// It knows two accounts (alice, bob; password "wonderland"), one public client using
// authorization code + PKCE, and one API (resource indicator) for which access tokens are
// RFC 9068 JWTs signed with a fresh ES256 key. Prints "ISSUER <url>" when it listens.
// Login and consent are plain HTTP endpoints a test drives without a browser.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

const API_AUDIENCE = process.env.API_AUDIENCE ?? 'https://api.example.test';
const REDIRECT_URI = process.env.REDIRECT_URI ?? 'http://127.0.0.1/callback';
const ACCOUNTS = { alice: 'wonderland', bob: 'wonderland' };

const { privateKey } = await generateKeyPair('ES256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'test-es256', alg: 'ES256', use: 'sig' };

const server = http.createServer();
await new Promise((r) => server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', r));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'api-client',
    token_endpoint_auth_method: 'none', // a public client (SPA, CLI, mobile app): PKCE instead of a secret
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    id_token_signed_response_alg: 'ES256',
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  findAccount: (_ctx, id) => (id in ACCOUNTS ? { accountId: id, claims: () => ({ sub: id }) } : undefined),
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => API_AUDIENCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => {
        if (resource !== API_AUDIENCE) throw new Provider.errors.InvalidTarget();
        return { scope: 'api:read api:write', audience: API_AUDIENCE, accessTokenFormat: 'jwt', accessTokenTTL: 3600, jwt: { sign: { alg: 'ES256' } } };
      },
    },
  },
});

/** Reads an application/x-www-form-urlencoded body. */
async function form(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10_000) throw new Error('body too large');
  }
  return Object.fromEntries(new URLSearchParams(body));
}

const callback = provider.callback();
server.on('request', async (req, res) => {
  const m = /^\/interaction\/([\w-]+)(\/login|\/confirm)?$/.exec(req.url.split('?')[0]);
  if (!m) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    if (req.method === 'GET') {
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify({ uid: details.uid, prompt: details.prompt.name }));
    }
    if (m[2] === '/login' && details.prompt.name === 'login') {
      const { login, password } = await form(req);
      if (ACCOUNTS[login] === undefined || ACCOUNTS[login] !== password) {
        res.statusCode = 401;
        return res.end('wrong login or password');
      }
      return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
    }
    if (m[2] === '/confirm' && details.prompt.name === 'consent') {
      const { prompt: { details: missing }, params, session } = details;
      const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
      const grantId = await grant.save();
      return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    }
    res.statusCode = 400;
    res.end('unexpected interaction step');
  } catch (error) {
    res.statusCode = 500;
    res.end(String(error?.message ?? error));
  }
});

process.stdout.write(`ISSUER ${issuer}\n`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
