// examples/express-app/src/pages.ts
// Server-rendered HTML shells. Each page loads /app.js, which calls the JSON API (the host's own
// routes and secondfactor's /mfa routes) and fills in the dynamic parts; pages that use security keys
// also load @simplewebauthn/browser from this server (no inline script: the CSP is `default-src 'self'`).
import { SIMPLEWEBAUTHN_BROWSER_URL } from './browser-library';
import type { AdminStats } from '@secondfactor/core';
import { statsChart } from './stats-chart';
import type { User } from './users';

function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

interface LayoutOptions {
  title: string;
  page: string;
  user?: User | null;
  body: string;
  /** Extra data for app.js (JSON in a data attribute). */
  data?: Record<string, unknown>;
  narrow?: boolean;
  /** Loads @simplewebauthn/browser (global `SimpleWebAuthnBrowser`) before app.js. */
  webauthn?: boolean;
  /** The enforcement policy's reminder, shown above the page (signed-in pages). */
  banner?: MfaBanner | null;
}

/**
 * What the policy asks of the signed-in user who has no factor it counts: set one up by a date
 * (an administrator in the grace period), or a gentle suggestion (everyone else without MFA).
 */
export type MfaBanner = { required: true; graceUntil: string } | { required: false };

/** `2026-01-12T09:00:00.000Z` → `12 January 2026` (UTC, the server's notion of the deadline). */
function longDate(iso: string): string {
  return new Date(iso).toLocaleDateString('en-GB', { timeZone: 'UTC', day: 'numeric', month: 'long', year: 'numeric' });
}

function bannerHtml(banner: MfaBanner): string {
  return banner.required
    ? `<div class="banner warn" id="mfa-banner" role="status">
  <strong>Set up two-step verification by <time datetime="${escapeHtml(banner.graceUntil)}">${escapeHtml(longDate(banner.graceUntil))}</time>.</strong>
  Administrators must use an authenticator app or a security key; after that date, signing in asks you to set one up first.
  <a href="/settings">Set it up now</a>
</div>`
    : `<div class="banner" id="mfa-banner" role="status">
  Protect your account: two-step verification keeps it safe even if your password leaks. <a href="/settings">Turn it on</a>
</div>`;
}

function layout({ title, page, user, body, data, narrow, webauthn, banner }: LayoutOptions): string {
  const nav = user
    ? `<a href="/settings">Security</a><a href="/admin">Admin</a>
       <span class="who" title="Signed in">${escapeHtml(user.email)}</span>
       <button type="button" class="link" id="logout">Sign out</button>`
    : `<a href="/login">Sign in</a><a class="button small" href="/register">Create account</a>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Acme (secondfactor example)</title>
<link rel="stylesheet" href="/style.css">
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='4' fill='%234f46e5'/%3E%3C/svg%3E">
</head>
<body data-page="${escapeHtml(page)}" data-props="${escapeHtml(JSON.stringify(data ?? {}))}">
<header class="topbar">
  <a class="brand" href="/"><span class="logo" aria-hidden="true"></span>Acme</a>
  <nav>${nav}</nav>
</header>
<main class="${narrow ? 'narrow' : 'wide'}">
${banner ? bannerHtml(banner) : ''}${body}
</main>
<footer class="footer">An ordinary Express app with its own users and sessions — plus <a href="https://github.com/secondfactor">secondfactor</a> for the second factor.</footer>
${webauthn ? `<script src="${SIMPLEWEBAUTHN_BROWSER_URL}" defer></script>
` : ''}<script src="/app.js" defer></script>
</body>
</html>`;
}

const alert = '<div class="alert" role="alert" hidden></div>';

export function homePage(user: User | null, banner?: MfaBanner | null): string {
  const body = user
    ? `<section class="card hero">
        <h1>Welcome back</h1>
        <p>You are signed in as <strong>${escapeHtml(user.email)}</strong>.</p>
        <div class="actions"><a class="button" href="/settings">Security settings</a><a class="button secondary" href="/admin">Admin area</a></div>
      </section>`
    : `<section class="card hero">
        <h1>Acme</h1>
        <p>A small Express app with its own accounts, passwords and sessions. Two-factor authentication is added with
        <strong>secondfactor</strong>: authenticator apps, text messages, backup codes, trusted devices and step-up.</p>
        <div class="actions"><a class="button" href="/register">Create an account</a><a class="button secondary" href="/login">Sign in</a></div>
      </section>`;
  return layout({ title: 'Home', page: 'home', user, body, narrow: true, banner });
}

export function registerPage(): string {
  return layout({
    title: 'Create account', page: 'register', narrow: true,
    body: `<section class="card">
      <h1>Create your account</h1>
      ${alert}
      <form id="register-form" novalidate>
        <label>Email<input name="email" type="email" autocomplete="username" required></label>
        <label>Password<input name="password" type="password" autocomplete="new-password" minlength="8" required>
          <small>At least 8 characters.</small></label>
        <button type="submit">Create account</button>
      </form>
      <p class="muted">Already have an account? <a href="/login">Sign in</a></p>
    </section>`,
  });
}

export function loginPage(notice?: string): string {
  return layout({
    title: 'Sign in', page: 'login', narrow: true,
    body: `<section class="card">
      <h1>Sign in</h1>
      ${notice ? `<div class="alert success" role="status">${escapeHtml(notice)}</div>` : ''}
      ${alert}
      <form id="login-form" novalidate>
        <label>Email<input name="email" type="email" autocomplete="username" required></label>
        <label>Password<input name="password" type="password" autocomplete="current-password" required></label>
        <button type="submit">Sign in</button>
      </form>
      <p class="muted">New here? <a href="/register">Create an account</a></p>
    </section>`,
  });
}

/** `webauthn`: the server offers security keys (the methods of this login are known only to the page's script). */
export function secondFactorPage(options: { webauthn: boolean }): string {
  return layout({
    title: 'Two-factor authentication', page: 'second-factor', narrow: true, webauthn: options.webauthn,
    body: `<section class="card">
      <h1>Two-factor authentication</h1>
      <p class="muted" id="mfa-intro">Your password was right. Confirm it's you with your second factor.</p>
      ${alert}
      <div class="tabs" role="tablist" id="method-tabs"></div>
      <form id="verify-form" novalidate>
        <p class="hint" id="method-hint"></p>
        <div id="sms-send" class="row" hidden>
          <button type="button" class="secondary" id="send-sms">Send code</button>
          <span class="muted" id="sms-sent"></span>
        </div>
        <p class="dev-code" id="dev-code" hidden></p>
        <label id="code-field"><span id="code-label">Code</span><input name="code" id="code" autocomplete="one-time-code" inputmode="numeric" required></label>
        <label class="check"><input type="checkbox" name="trustDevice" id="trust-device"> Trust this device for 30 days</label>
        <button type="submit" id="verify-submit">Verify</button>
      </form>
      <p class="muted"><a href="/login">Start over</a></p>
    </section>`,
  });
}

/** `webauthnOrigins`: where security keys work (the page says so when it is opened elsewhere). */
export function settingsPage(user: User, options: { smsAvailable: boolean; devMode: boolean; webauthnAvailable: boolean; webauthnOrigins?: string[] }, banner?: MfaBanner | null): string {
  return layout({
    title: 'Security settings', page: 'settings', user, data: options, webauthn: options.webauthnAvailable, banner,
    body: `<div class="page-head">
      <div><h1>Security settings</h1><p class="muted">${escapeHtml(user.email)}</p></div>
      <span class="pill" id="mfa-status">Loading…</span>
    </div>
    ${alert}
    <div class="grid">
      <section class="card" id="factors-card">
        <h2>Your second factors</h2>
        <p class="muted" id="factors-empty">No second factor yet. Add an authenticator app${options.webauthnAvailable ? ' or a security key' : ''} to turn on two-factor authentication.</p>
        <ul class="list" id="factor-list"></ul>
      </section>

      <div class="col">
      <section class="card" id="totp-card">
        <h2>Authenticator app</h2>
        <p class="muted">Google Authenticator, 1Password, Authy, Microsoft Authenticator…</p>
        <button type="button" id="totp-start">Add authenticator app</button>
        <div id="totp-setup" hidden>
          <ol class="steps">
            <li>Scan this QR code with your authenticator app.</li>
          </ol>
          <div class="qr-wrap"><img id="totp-qr" alt="QR code for your authenticator app" width="220" height="220"></div>
          <p class="muted small-print">Can't scan it? Enter this key manually:</p>
          <code class="secret" id="totp-secret"></code>
          <ol class="steps" start="2"><li>Enter the 6-digit code the app shows.</li></ol>
          <form id="totp-confirm" class="inline" novalidate>
            <input name="code" id="totp-code" inputmode="numeric" autocomplete="one-time-code" placeholder="123456" maxlength="8" required>
            <button type="submit">Confirm</button>
          </form>
        </div>
      </section>

      <section class="card" id="webauthn-card">
        <h2>Security key or passkey</h2>
        ${options.webauthnAvailable ? `<p class="muted">A USB or NFC key (YubiKey, Titan…), or a passkey in this device or your password manager. It only works on this site, so a fake page cannot phish it.</p>
        <form id="webauthn-setup" novalidate>
          <label>Name<input name="label" id="webauthn-label" maxlength="64" autocomplete="off" placeholder="e.g. YubiKey 5C" aria-describedby="webauthn-label-hint">
            <small id="webauthn-label-hint">Optional: to tell your keys apart.</small></label>
          <button type="submit" id="webauthn-start">Add a security key or passkey</button>
        </form>
        <p class="muted" id="webauthn-unsupported" hidden>This browser cannot use security keys or passkeys.</p>` : '<p class="muted">Security keys are not configured on this server.</p>'}
      </section>
      </div>

      <div class="col">
      <section class="card" id="sms-card">
        <h2>Text message</h2>
        ${options.smsAvailable ? `<p class="muted">Receive a code by SMS. Less safe than an app: use it as a fallback.</p>
        <form id="sms-setup" class="inline" novalidate>
          <input name="phone" id="sms-phone" type="tel" autocomplete="tel" placeholder="+1 415 555 0100" required>
          <button type="submit" class="secondary">Send code</button>
        </form>
        <form id="sms-confirm" class="inline" hidden novalidate>
          <input name="code" id="sms-code" inputmode="numeric" autocomplete="one-time-code" placeholder="Code from the SMS" required>
          <button type="submit">Confirm phone</button>
        </form>
        <p class="dev-code" id="sms-dev-code" hidden></p>` : '<p class="muted">SMS is not configured on this server.</p>'}
      </section>

      <section class="card" id="backup-card">
        <h2>Backup codes</h2>
        <p class="muted" id="backup-remaining">Backup codes let you sign in when you don't have your phone.</p>
        <button type="button" class="secondary" id="backup-regenerate" hidden>Generate new backup codes</button>
      </section>
      </div>

      <section class="card" id="devices-card">
        <h2>Trusted devices</h2>
        <p class="muted" id="devices-empty">No trusted devices. Tick "Trust this device" when you sign in to skip the code on that browser.</p>
        <ul class="list" id="device-list"></ul>
      </section>

      <section class="card danger-zone" id="disable-card" hidden>
        <h2>Turn off two-factor authentication</h2>
        <p class="muted">Removes all factors, backup codes and trusted devices. Confirm with your password or a current code.</p>
        <form id="disable-form" novalidate>
          <div class="segmented">
            <label><input type="radio" name="proof" value="password" checked> Password</label>
            <label><input type="radio" name="proof" value="code"> Code</label>
          </div>
          <div class="inline">
            <input name="secret" id="disable-secret" type="password" autocomplete="current-password" placeholder="Your password" required>
            <button type="submit" class="danger">Turn off</button>
          </div>
        </form>
      </section>
    </div>

    <dialog id="backup-dialog" aria-labelledby="backup-title">
      <h2 id="backup-title">Save your backup codes</h2>
      <p>Each code works once. Keep them somewhere safe — <strong>they are shown only this time</strong>.</p>
      <ol class="codes" id="backup-codes"></ol>
      <div class="actions">
        <button type="button" class="secondary" id="backup-copy">Copy</button>
        <button type="button" class="secondary" id="backup-download">Download</button>
        <button type="button" id="backup-done">I saved them</button>
      </div>
    </dialog>

    <dialog id="proof-dialog" aria-labelledby="proof-title">
      <form method="dialog" id="proof-form" novalidate>
        <h2 id="proof-title">Confirm it's you</h2>
        <p id="proof-message">Enter a code from your authenticator app, or a backup code.</p>
        <input name="code" id="proof-code" aria-label="Code" autocomplete="one-time-code" required>
        <div class="actions">
          <button type="button" class="secondary" id="proof-cancel">Cancel</button>
          <button type="submit" id="proof-submit">Confirm</button>
        </div>${options.webauthnAvailable ? `
        <p class="or" id="proof-key-row" hidden><span>or</span>
          <button type="button" class="secondary" id="proof-key">Use your security key</button></p>` : ''}
      </form>
    </dialog>`,
  });
}

/** What the admin tools show when the page loads: the figures of the last days. */
export interface AdminTools {
  stats: AdminStats;
}

const TYPE_NAMES: Record<string, string> = { totp: 'authenticator app', webauthn: 'security key', sms: 'text message', email: 'email' };

/** `authTime`: epoch milliseconds (requireMfa()'s `req.mfa.authTime`). `tools`: only for administrators. */
export function adminPage(user: User, info: { authTime: number; maxAge: number; amr: string[]; tools?: AdminTools }): string {
  const verifiedAt = new Date(info.authTime).toISOString().replace('T', ' ').slice(0, 19);
  const tools = info.tools;
  const byType = tools ? Object.entries(tools.stats.byFactorType).map(([t, count]) => `${count} with ${TYPE_NAMES[t] ?? t}`).join(', ') : '';
  return layout({
    title: 'Admin', page: 'admin', user, data: { userId: user.id },
    body: `<section class="card">
      <span class="pill on">Verified</span>
      <h1>Admin area</h1>
      <p>This page is behind <code>requireMfa(mfa, { maxAge: ${info.maxAge} })</code>: it needs a second factor verified in the
      last ${info.maxAge} seconds.</p>
      <dl class="facts">
        <dt>Second factor verified at</dt><dd id="auth-time">${escapeHtml(verifiedAt)} UTC</dd>
        <dt>Methods (amr)</dt><dd>${escapeHtml(info.amr.join(', '))}</dd>
      </dl>
      <p class="muted">After ${info.maxAge} seconds you will be asked for a code again.</p>
    </section>${tools ? `
    <section class="card" id="users-card">
      <h2>Find a user</h2>
      <p class="muted">See a user's second factors and recent security events; reset their two-step verification
      (they set it up again at their next sign-in) or unlock them after 100 wrong codes.</p>
      ${alert}
      <form id="user-search" class="search" novalidate>
        <label>Email<input name="email" id="search-email" type="email" autocomplete="off" required></label>
        <button type="submit">Find</button>
      </form>
      <div id="user-panel" hidden>
        <div class="page-head">
          <h3 id="user-email"></h3>
          <span class="pill" id="user-status"></span>
        </div>
        <dl class="facts">
          <dt>Backup codes left</dt><dd id="user-backup"></dd>
          <dt>Trusted devices</dt><dd id="user-devices"></dd>
        </dl>
        <h4>Second factors</h4>
        <p class="muted" id="user-factors-empty">No second factor.</p>
        <ul class="list" id="user-factors"></ul>
        <h4>Recent events</h4>
        <div class="table-wrap">
          <table id="user-events">
            <caption class="offscreen">The user's 20 latest security events, newest first</caption>
            <thead><tr><th scope="col">When</th><th scope="col">Event</th><th scope="col">Outcome</th><th scope="col">Details</th></tr></thead>
            <tbody></tbody>
          </table>
        </div>
        <div class="admin-actions">
          <button type="button" class="secondary" id="user-unlock">Unlock</button>
          <form id="reset-form" novalidate>
            <label>Reason for the reset<input name="reason" id="reset-reason" type="text" maxlength="500" autocomplete="off"
              placeholder="e.g. lost phone, identity checked by video call" aria-describedby="reset-hint">
              <small id="reset-hint">Kept in the audit log with your name. Removes every factor, backup code and trusted device.</small></label>
            <button type="submit" class="danger">Reset two-step verification</button>
          </form>
        </div>
      </div>
    </section>
    <section class="card" id="stats-card">
      <h2>Two-step verification, last ${tools.stats.days.length} days</h2>
      <dl class="facts">
        <dt>Users with two-step verification</dt><dd id="stats-users">${tools.stats.usersWithMfa}</dd>
        <dt>By factor</dt><dd id="stats-types">${escapeHtml(byType || 'none yet')}</dd>
      </dl>
      ${statsChart(tools.stats)}
    </section>` : ''}`,
  });
}

/** The enrolment step of a login the policy holds back (the page's script keeps the enrolment token). */
export function enrollPage(options: { webauthn: boolean }): string {
  return layout({
    title: 'Set up two-step verification', page: 'enroll', narrow: true, webauthn: options.webauthn,
    body: `<section class="card">
      <h1>Set up two-step verification</h1>
      <p class="muted" id="enroll-intro">Your password was right. Your account must use two-step verification: set it up now to finish signing in.</p>
      ${alert}
      <div id="enroll-choice" class="actions">
        <button type="button" id="enroll-totp">Use an authenticator app</button>
        <button type="button" class="secondary" id="enroll-key" hidden>Use a security key</button>
      </div>
      <div id="enroll-totp-setup" hidden>
        <ol class="steps">
          <li>Scan this QR code with your authenticator app.</li>
        </ol>
        <div class="qr-wrap"><img id="totp-qr" alt="QR code for your authenticator app" width="220" height="220"></div>
        <p class="muted small-print">Can't scan it? Enter this key manually:</p>
        <code class="secret" id="totp-secret"></code>
        <ol class="steps" start="2"><li>Enter the 6-digit code the app shows.</li></ol>
        <form id="enroll-confirm" class="inline" novalidate>
          <input name="code" id="totp-code" aria-label="Code from the app" inputmode="numeric" autocomplete="one-time-code" placeholder="123456" maxlength="8" required>
          <button type="submit">Confirm</button>
        </form>
      </div>
      <div id="enroll-done" hidden>
        <h2>Save your backup codes</h2>
        <p>Each code works once, when you can't use your phone or key. Keep them somewhere safe — <strong>they are shown only this time</strong>.</p>
        <ol class="codes" id="backup-codes"></ol>
        <div class="actions"><a class="button" id="enroll-continue" href="/settings">I saved them — continue</a></div>
      </div>
      <p class="muted" id="enroll-restart"><a href="/login">Start over</a></p>
    </section>`,
  });
}

/** `securityKey`: the user has a security key or passkey (the page offers it first). */
export function stepUpPage(user: User, options: { next: string; enabled: boolean; maxAge: number; securityKey?: boolean }): string {
  const key = options.securityKey === true;
  const body = options.enabled
    ? `<section class="card">
      <h1>Confirm it's you</h1>
      <p class="muted">This page needs a recent second factor (within ${options.maxAge} seconds).
      ${key ? 'Use your security key, or enter' : 'Enter'} a code from your authenticator app, or a backup code.</p>
      ${alert}${key ? `
      <div class="actions"><button type="button" id="step-up-key">Use your security key</button></div>
      <p class="or"><span>or enter a code</span></p>` : ''}
      <form id="step-up-form" novalidate>
        <label>Code<input name="code" id="step-up-code" autocomplete="one-time-code" required></label>
        <button type="submit"${key ? ' class="secondary"' : ''}>Continue</button>
      </form>
    </section>`
    : `<section class="card">
      <h1>Two-factor authentication required</h1>
      <p>This page is only for accounts with two-factor authentication. Turn it on first.</p>
      <div class="actions"><a class="button" href="/settings">Security settings</a></div>
    </section>`;
  return layout({ title: 'Confirm it\'s you', page: 'step-up', user, body, data: { next: options.next }, narrow: true, webauthn: key });
}

export function notFoundPage(user: User | null): string {
  return layout({
    title: 'Not found', page: 'not-found', user, narrow: true,
    body: '<section class="card"><h1>Page not found</h1><p><a href="/">Back home</a></p></section>',
  });
}
