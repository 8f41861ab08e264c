// examples/express-app/src/browser-library.ts
// GET /vendor/simplewebauthn-browser.js: @simplewebauthn/browser's UMD bundle (global
// `SimpleWebAuthnBrowser`), served from this app's own origin — no CDN, so the pages' CSP stays
// `default-src 'self'` — from the copy the package manager installed (pinned in package.json).
import fs from 'node:fs';
import path from 'node:path';
import type { RequestHandler } from 'express';

export const SIMPLEWEBAUTHN_BROWSER_URL = '/vendor/simplewebauthn-browser.js';

/**
 * The bundle's file. The package's `exports` name only its CJS and ESM entry points, so the bundle
 * is found next to the CJS one (`script/index.js` → `../dist/bundle/index.umd.min.js`).
 */
export function simpleWebAuthnBundle(): string {
  const file = path.join(path.dirname(require.resolve('@simplewebauthn/browser')), '..', 'dist', 'bundle', 'index.umd.min.js');
  if (!fs.existsSync(file)) throw new Error(`@simplewebauthn/browser: no browser bundle at ${file} (reinstall the example's dependencies)`);
  return file;
}

/** Read once at start (a missing bundle fails the start, not a page); answered from memory. */
export function serveSimpleWebAuthn(file = simpleWebAuthnBundle()): RequestHandler {
  const source = fs.readFileSync(file);
  return function serveBrowserLibrary(_req, res) {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('text/javascript').send(source);
  };
}
