// examples/express-app/public/app.js
// The pages' behaviour: small vanilla JS over the JSON API (the host's /login, /register, /logout
// and secondfactor's /mfa routes). No framework, no build step.
(function () {
  'use strict';

  var page = document.body.dataset.page;
  var props = JSON.parse(document.body.dataset.props || '{}');
  var CHALLENGE_KEY = 'acme.mfaChallenge';
  var ENROLLMENT_KEY = 'acme.mfaEnrollment';

  function $(selector, root) { return (root || document).querySelector(selector); }

  /** Builds an element; children are nodes or strings (always text, never HTML). */
  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === 'class') node.className = attrs[key];
      else if (key.slice(0, 2) === 'on') node.addEventListener(key.slice(2), attrs[key]);
      else if (attrs[key] !== undefined && attrs[key] !== null && attrs[key] !== false) node.setAttribute(key, attrs[key]);
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  var MESSAGES = {
    invalid_code: "That code didn't work. Check it and try again.",
    challenge_expired: 'This sign-in has expired. Please sign in again.',
    mfa_required: 'Confirm with a current code first.',
    already_enrolled: 'This factor is already set up.',
    not_enrolled: 'That item no longer exists.',
    sms_unavailable: "We couldn't send the text message. Try again later.",
    store_unavailable: 'The service is temporarily unavailable. Try again in a moment.',
    unauthenticated: 'Your session has ended. Please sign in again.',
    csrf: 'The request was refused. Reload the page and try again.',
    replayed: 'That security key answer was already used. Try again.',
  };

  /** fetch() with JSON in and out. Every state-changing call is `Content-Type: application/json` (the CSRF rule). */
  function api(method, url, body) {
    var init = { method: method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (method !== 'GET') {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body || {});
    }
    return fetch(url, init).then(function (res) {
      var parse = res.status === 204 ? Promise.resolve(null) : res.json().catch(function () { return null; });
      return parse.then(function (data) {
        if (res.ok) return data;
        var error = new Error(messageFor(data, res));
        error.status = res.status;
        error.code = data?.code;
        throw error;
      });
    });
  }

  function messageFor(problem, res) {
    if (problem && problem.code === 'too_many_attempts') {
      var wait = res.headers.get('Retry-After');
      return 'Too many attempts. ' + (wait ? 'Try again in ' + wait + ' seconds.' : 'Try again later.');
    }
    if (problem && MESSAGES[problem.code]) return MESSAGES[problem.code];
    return (problem && (problem.detail || problem.title)) || 'Something went wrong (' + res.status + ').';
  }

  function showAlert(message, kind) {
    var box = $('.alert[role="alert"]');
    if (!box) { window.alert(message); return; }
    box.textContent = message;
    box.className = 'alert' + (kind ? ' ' + kind : '');
    box.hidden = false;
    box.scrollIntoView({ block: 'nearest' });
  }
  function clearAlert() {
    var box = $('.alert[role="alert"]');
    if (box) box.hidden = true;
  }

  /** Wires a form: disables its buttons while `handler` runs, shows errors in the page's alert. */
  function onSubmit(form, handler) {
    if (!form) return;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      clearAlert();
      var buttons = form.querySelectorAll('button');
      buttons.forEach(function (b) { b.disabled = true; });
      Promise.resolve()
        .then(function () { return handler(new FormData(form)); })
        .catch(function (error) { showAlert(error.message); })
        .then(function () { buttons.forEach(function (b) { b.disabled = false; }); });
    });
  }

  function when(iso) {
    if (!iso) return 'never';
    var d = new Date(iso);
    return d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' }) + ' ' +
      d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  }

  function nextFromQuery() {
    var next = new URLSearchParams(location.search).get('next');
    return next && /^\/(?![/\\])/.test(next) ? next : undefined;
  }

  /**
   * Development only (SMS_DEV_MODE): the server shows the last SMS code of this login challenge
   * ({challengeToken}) or of this signed-in user's pending phone ({factorId}).
   */
  function showDevCode(binding, target) {
    return api('POST', '/dev/sms-code', binding)
      .then(function (data) {
        if (!data?.code || !target) return;
        target.textContent = 'dev mode: your code is ' + data.code;
        target.hidden = false;
      })
      .catch(function () { /* not in dev mode */ });
  }

  // ---- security keys and passkeys (WebAuthn, through @simplewebauthn/browser, served by this app) ----
  var keys = window.SimpleWebAuthnBrowser;
  function keySupported() { return Boolean(keys?.browserSupportsWebAuthn()); }
  /** What the browser's refusal means for the person (cancelled, timed out, a key already registered…). */
  function keyError(error) {
    var message = 'Your browser could not use the security key' + (error?.name ? ' (' + error.name + ').' : '.');
    if (error?.code === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED') message = 'This security key is already registered to your account.';
    else if (error?.name === 'NotAllowedError') message = 'The security key was not used: the request was cancelled or timed out.';
    var wrapped = new Error(message);
    wrapped.code = 'key_' + (error?.name || 'error');
    return wrapped;
  }
  /** A server refusal of a key's answer, in words about keys rather than codes. */
  function keyFailure(error) {
    if (error.code === 'invalid_code') error.message = 'That security key was not accepted. Use a key you added to this account.';
    return error;
  }
  /** For a request that carried fresh proof: a refusal of a key's answer is worded for keys, of a code for codes. */
  function proofRefused(proof) {
    return function (error) { throw proof.method === 'webauthn' ? keyFailure(error) : error; };
  }
  function createKey(options) {
    return keys.startRegistration({ optionsJSON: options }).catch(function (error) { throw keyError(error); });
  }
  function useKey(options) {
    return keys.startAuthentication({ optionsJSON: options }).catch(function (error) { throw keyError(error); });
  }
  /** The signed-in user's key as proof (step-up, or fresh proof for a change): request options, then the key's answer. */
  function keyProof() {
    return api('POST', '/mfa/challenge/webauthn', {})
      .then(function (r) { return useKey(r.options); })
      .then(function (response) { return { method: 'webauthn', response: response }; });
  }

  /** Lists backup codes (text only) in `list`. */
  function fillCodes(list, codes) {
    list.textContent = '';
    codes.forEach(function (c) { list.appendChild(el('li', null, el('code', null, c))); });
  }

  // ---- every page: sign out ----
  var logout = $('#logout');
  if (logout) {
    logout.addEventListener('click', function () {
      api('POST', '/logout').then(function (r) { location.href = r.redirect; });
    });
  }

  // ---- register ----
  if (page === 'register') {
    onSubmit($('#register-form'), function (data) {
      return api('POST', '/register', { email: data.get('email'), password: data.get('password') })
        .then(function (r) { location.href = r.redirect; });
    });
  }

  // ---- login: password step ----
  if (page === 'login') {
    onSubmit($('#login-form'), function (data) {
      var next = nextFromQuery();
      return api('POST', '/login', { email: data.get('email'), password: data.get('password'), next: next })
        .then(function (r) {
          if (r.mfaRequired) {
            sessionStorage.setItem(CHALLENGE_KEY, JSON.stringify({
              challengeToken: r.challengeToken, methods: r.methods, expiresAt: r.expiresAt, next: next,
            }));
            location.href = '/login/second-factor';
            return;
          }
          // The policy requires a second factor and the grace period is over: enrol first, then the login completes.
          if (r.mfaEnrollmentRequired) {
            sessionStorage.setItem(ENROLLMENT_KEY, JSON.stringify({
              enrollmentToken: r.enrollmentToken, methods: r.methods, expiresAt: r.expiresAt, next: next,
            }));
            location.href = '/login/enroll';
            return;
          }
          location.href = r.redirect;
        });
    });
  }

  // ---- login: second-factor step ----
  if (page === 'second-factor') {
    var challenge = null;
    try { challenge = JSON.parse(sessionStorage.getItem(CHALLENGE_KEY) || 'null'); } catch { challenge = null; }
    var form = $('#verify-form');
    if (!challenge || new Date(challenge.expiresAt).getTime() < Date.now()) {
      sessionStorage.removeItem(CHALLENGE_KEY);
      form.hidden = true;
      showAlert('Your sign-in has expired. Please sign in again.');
    } else {
      var LABELS = { webauthn: 'Security key', totp: 'Authenticator', sms: 'Text message', email: 'Email', backup_code: 'Backup code' };
      var HINTS = {
        webauthn: 'Use the security key or passkey you added: your browser asks you to touch or unlock it.',
        totp: 'Open your authenticator app and enter the 6-digit code for Acme.',
        sms: 'We will text a 6-digit code to the phone you registered.',
        email: 'We will email a 6-digit code to you.',
        backup_code: 'Enter one of the backup codes you saved. Each code works once.',
      };
      // A security key first (it cannot be phished), when this browser can use one.
      var order = ['webauthn', 'totp', 'sms', 'email', 'backup_code'].filter(function (m) {
        return challenge.methods.indexOf(m) >= 0 && (m !== 'webauthn' || keySupported());
      });
      var method = order[0];
      var tabs = $('#method-tabs');
      var select = function (m) {
        method = m;
        tabs.querySelectorAll('button').forEach(function (b) { b.setAttribute('aria-selected', String(b.dataset.method === m)); });
        $('#method-hint').textContent = HINTS[m];
        $('#code-label').textContent = m === 'backup_code' ? 'Backup code' : 'Code';
        var input = $('#code');
        input.value = '';
        input.setAttribute('inputmode', m === 'backup_code' ? 'text' : 'numeric');
        input.setAttribute('placeholder', m === 'backup_code' ? 'xxxxx-xxxxx' : '123456');
        $('#sms-send').hidden = m !== 'sms';
        $('#dev-code').hidden = true;
        $('#code-field').hidden = m === 'webauthn';
        $('#verify-submit').textContent = m === 'webauthn' ? 'Use your security key' : 'Verify';
        clearAlert();
        (m === 'webauthn' ? $('#verify-submit') : input).focus();
      };
      order.forEach(function (m) {
        tabs.appendChild(el('button', { type: 'button', role: 'tab', 'data-method': m, onclick: function () { select(m); } }, LABELS[m]));
      });
      select(method);

      $('#send-sms').addEventListener('click', function () {
        clearAlert();
        api('POST', '/mfa/challenge/sms', { challengeToken: challenge.challengeToken })
          .then(function (r) {
            $('#sms-sent').textContent = 'Code sent to ' + r.sentTo;
            return showDevCode({ challengeToken: challenge.challengeToken }, $('#dev-code'));
          })
          .catch(function (error) { showAlert(error.message); });
      });

      /** The body of /mfa/verify for the chosen method: a code, or the key's answer to this login's challenge. */
      var answer = function (data) {
        if (method !== 'webauthn') return Promise.resolve({ method: method, code: String(data.get('code') || '').trim() });
        return api('POST', '/mfa/challenge/webauthn', { challengeToken: challenge.challengeToken })
          .then(function (r) { return useKey(r.options); })
          .then(function (response) { return { method: 'webauthn', response: response }; });
      };
      onSubmit(form, function (data) {
        return answer(data).then(function (body) {
          body.challengeToken = challenge.challengeToken;
          body.trustDevice = $('#trust-device').checked;
          return api('POST', '/mfa/verify', body);
        }).then(function (r) {
          sessionStorage.removeItem(CHALLENGE_KEY);
          location.href = challenge.next || r.redirect;
        }, function (error) {
          if (error.code === 'challenge_expired') {
            sessionStorage.removeItem(CHALLENGE_KEY);
            form.hidden = true;
          }
          throw method === 'webauthn' ? keyFailure(error) : error;
        });
      });
    }
  }

  // ---- login: enrolment step (the policy requires a factor; the enrolment token stands for the password step) ----
  if (page === 'enroll') {
    var enrollment = null;
    try { enrollment = JSON.parse(sessionStorage.getItem(ENROLLMENT_KEY) || 'null'); } catch { enrollment = null; }
    var choice = $('#enroll-choice');
    if (!enrollment || new Date(enrollment.expiresAt).getTime() < Date.now()) {
      sessionStorage.removeItem(ENROLLMENT_KEY);
      choice.hidden = true;
      showAlert('Your sign-in has expired. Please sign in again.');
    } else {
      var token = enrollment.enrollmentToken;
      var allows = function (m) { return enrollment.methods.indexOf(m) >= 0; };
      var keyButton = $('#enroll-key');
      $('#enroll-totp').hidden = !allows('totp');
      keyButton.hidden = !(allows('webauthn') && keySupported());
      // A security key first when it can be used here (it cannot be phished), as on the second-factor page.
      if (!keyButton.hidden) {
        keyButton.className = '';
        $('#enroll-totp').className = 'secondary';
        choice.insertBefore(keyButton, choice.firstChild);
      }
      var pendingFactor = null;
      /** The login is complete (the session cookie is set): show the backup codes once, then continue. */
      var finished = function (r) {
        sessionStorage.removeItem(ENROLLMENT_KEY);
        var next = enrollment.next || r.redirect;
        $('#enroll-continue').setAttribute('href', next);
        $('#enroll-totp-setup').hidden = true;
        choice.hidden = true;
        $('#enroll-intro').textContent = 'Two-step verification is on. You are signed in.';
        $('#enroll-restart').hidden = true;
        if (!r.backupCodes) { location.href = next; return; }
        fillCodes($('#backup-codes'), r.backupCodes);
        $('#enroll-done').hidden = false;
        $('#enroll-continue').focus();
      };
      var expired = function (error) {
        if (error.code === 'challenge_expired') {
          sessionStorage.removeItem(ENROLLMENT_KEY);
          choice.hidden = true;
          $('#enroll-totp-setup').hidden = true;
        }
        throw error;
      };
      $('#enroll-totp').addEventListener('click', function () {
        clearAlert();
        api('POST', '/mfa/totp/setup', { enrollmentToken: token }).then(function (r) {
          pendingFactor = r.factorId;
          $('#totp-qr').src = r.qrCode;
          $('#totp-secret').textContent = r.secret.replace(/(.{4})(?=.)/g, '$1 ');
          $('#enroll-totp-setup').hidden = false;
          choice.hidden = true;
          $('#totp-code').focus();
        }).catch(expired).catch(function (error) { showAlert(error.message); });
      });
      onSubmit($('#enroll-confirm'), function (data) {
        return api('POST', '/mfa/totp/confirm', { enrollmentToken: token, factorId: pendingFactor, code: String(data.get('code') || '').trim() })
          .then(finished, expired);
      });
      keyButton.addEventListener('click', function () {
        clearAlert();
        keyButton.disabled = true;
        api('POST', '/mfa/webauthn/setup', { enrollmentToken: token })
          .then(function (r) {
            return createKey(r.options).then(function (response) {
              return api('POST', '/mfa/webauthn/confirm', { enrollmentToken: token, factorId: r.factorId, response: response })
                .catch(function (error) { throw keyFailure(error); });
            });
          })
          .then(finished, expired)
          .catch(function (error) { showAlert(error.message); })
          .then(function () { keyButton.disabled = false; });
      });
    }
  }

  // ---- admin tools: find a user, see their factors and events, reset, unlock ----
  if (page === 'admin' && $('#user-search')) {
    var EVENTS = {
      'factor.enrolled': 'Factor added (pending)', 'factor.confirmed': 'Factor confirmed', 'factor.removed': 'Factor removed',
      'mfa.verified': 'Verified', 'mfa.failed': 'Failed verification', 'totp.replay_rejected': 'Code replay refused',
      'mfa.locked': 'Locked', 'mfa.unlocked': 'Unlocked by an administrator', 'backup_code.used': 'Backup code used',
      'backup_codes.regenerated': 'New backup codes', 'mfa.disabled': 'Two-step verification off', 'device.trusted': 'Device trusted',
      'device.revoked': 'Device revoked', 'code.sent': 'Code sent', 'challenge.started': 'Sign-in started',
      'enrollment.required': 'Asked to set up', 'mfa.reset': 'Reset by an administrator',
    };
    var FACTORS = { totp: 'Authenticator app', sms: 'Text message', email: 'Email', webauthn: 'Security key' };
    var target = null;
    var showUser = function () {
      return api('GET', '/admin/mfa/users/' + encodeURIComponent(target.id)).then(function (u) {
        $('#user-email').textContent = target.email;
        var pill = $('#user-status');
        pill.textContent = u.locked ? 'Locked' : u.enabled ? 'Two-step verification: On' : 'Two-step verification: Off';
        pill.className = 'pill ' + (u.locked ? 'off' : u.enabled ? 'on' : '');
        $('#user-backup').textContent = String(u.backupCodesRemaining);
        $('#user-devices').textContent = String(u.trustedDevices);
        $('#user-unlock').hidden = !u.locked;
        var list = $('#user-factors');
        list.textContent = '';
        $('#user-factors-empty').hidden = u.factors.length > 0;
        u.factors.forEach(function (f) {
          list.appendChild(el('li', { 'data-type': f.type },
            el('span', { class: 'icon ' + f.type, 'aria-hidden': 'true' }),
            el('div', { class: 'grow' },
              el('strong', null, f.label || FACTORS[f.type] || f.type),
              el('div', { class: 'muted small' }, [FACTORS[f.type] || f.type, f.destination, 'added ' + when(f.createdAt), 'last used ' + when(f.lastUsedAt)].filter(Boolean).join(' \u00b7 ')))));
        });
        var rows = $('#user-events tbody');
        rows.textContent = '';
        u.events.forEach(function (e) {
          var details = [e.factorType && (FACTORS[e.factorType] || e.factorType), e.reason, e.detail && '\u201c' + e.detail + '\u201d', e.actor && 'by ' + (e.actor === props.userId ? 'you' : 'administrator ' + e.actor), e.ip]
            .filter(Boolean).join(' \u00b7 ');
          rows.appendChild(el('tr', { 'data-type': e.type },
            el('td', null, when(e.at)), el('td', null, EVENTS[e.type] || e.type), el('td', null, e.outcome), el('td', null, details)));
        });
        $('#user-panel').hidden = false;
      });
    };
    onSubmit($('#user-search'), function (data) {
      var email = String(data.get('email') || '').trim();
      return api('GET', '/admin/find-user?email=' + encodeURIComponent(email)).then(function (u) {
        target = u;
        $('#reset-form').reset();
        return showUser();
      }, function (error) {
        $('#user-panel').hidden = true;
        throw error;
      });
    });
    $('#user-unlock').addEventListener('click', function () {
      clearAlert();
      api('POST', '/admin/mfa/users/' + encodeURIComponent(target.id) + '/unlock', {})
        .then(function () { showAlert('Unlocked ' + target.email + '.', 'success'); return showUser(); })
        .catch(function (error) { showAlert(error.message); });
    });
    onSubmit($('#reset-form'), function (data) {
      var reason = String(data.get('reason') || '').trim();
      return api('POST', '/admin/mfa/users/' + encodeURIComponent(target.id) + '/reset', reason ? { reason: reason } : {})
        .then(function () {
          $('#reset-form').reset();
          showAlert('Two-step verification of ' + target.email + ' was reset: they set it up again at their next sign-in.', 'success');
          return showUser();
        });
    });
  }

  // ---- security settings ----
  if (page === 'settings') {
    var state = { status: null, pendingTotp: null, pendingSms: null };

    var proofDialog = $('#proof-dialog');
    var hasKey = function () { return keySupported() && (state.status?.factors || []).some(function (f) { return f.type === 'webauthn'; }); };
    /**
     * Asks for fresh proof: a current code, or (for a user with a security key) the key itself.
     * Resolves to the proof's fields (`{code}` or `{method: 'webauthn', response}`), or null when cancelled.
     */
    var askProof = function (title, message) {
      return new Promise(function (resolve, reject) {
        $('#proof-title').textContent = title;
        $('#proof-message').textContent = message || 'Enter a code from your authenticator app, or a backup code.';
        var input = $('#proof-code');
        input.value = '';
        var keyButton = $('#proof-key');
        if (keyButton) $('#proof-key-row').hidden = !hasKey();
        var done = function (value, error) {
          proofDialog.removeEventListener('close', onClose);
          $('#proof-form').removeEventListener('submit', onSend);
          $('#proof-cancel').removeEventListener('click', onCancel);
          if (keyButton) keyButton.removeEventListener('click', onKey);
          if (proofDialog.open) proofDialog.close();
          if (error) reject(error);
          else resolve(value);
        };
        var onClose = function () { done(null); };
        var onCancel = function () { done(null); };
        var onSend = function (event) {
          event.preventDefault();
          var code = input.value.trim();
          if (code) done({ code: code });
        };
        var onKey = function () {
          keyButton.disabled = true;
          keyProof().then(function (proof) { done(proof); }, function (error) { done(null, keyFailure(error)); })
            .then(function () { keyButton.disabled = false; });
        };
        proofDialog.addEventListener('close', onClose);
        $('#proof-form').addEventListener('submit', onSend);
        $('#proof-cancel').addEventListener('click', onCancel);
        if (keyButton) keyButton.addEventListener('click', onKey);
        proofDialog.showModal();
        input.focus();
      });
    };
    /** Fresh proof for adding a factor when MFA is already on. */
    var proofForNewFactor = function () {
      if (!state.status?.enabled) return Promise.resolve({});
      return askProof('Confirm it\u2019s you', 'Adding a factor needs a current code from an existing factor, or a backup code.');
    };

    var backupDialog = $('#backup-dialog');
    var showBackupCodes = function (codes) {
      var list = $('#backup-codes');
      fillCodes(list, codes);
      var text = 'Acme backup codes (each works once)\n\n' + codes.join('\n') + '\n';
      $('#backup-copy').onclick = function () {
        var copied = navigator.clipboard && window.isSecureContext ? navigator.clipboard.writeText(text) : Promise.reject(new Error('no clipboard'));
        copied.catch(function () {
          var area = el('textarea', { class: 'offscreen' });
          area.value = text;
          backupDialog.appendChild(area);
          area.select();
          document.execCommand('copy');
          area.remove();
        }).then(function () { $('#backup-copy').textContent = 'Copied'; });
      };
      $('#backup-download').onclick = function () {
        var url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
        var a = el('a', { href: url, download: 'acme-backup-codes.txt' });
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
      };
      $('#backup-copy').textContent = 'Copy';
      $('#backup-done').onclick = function () { backupDialog.close(); list.textContent = ''; };
      backupDialog.showModal();
    };

    var TYPE_NAMES = { totp: 'Authenticator app', sms: 'Text message', email: 'Email', webauthn: 'Security key' };
    /** A key's kind comes from the server: a synced passkey, or a key bound to one device. */
    var typeName = function (f) {
      if (f.type === 'webauthn') return f.kind === 'passkey' ? 'Passkey' : 'Security key';
      return TYPE_NAMES[f.type] || f.type;
    };
    var render = function (status, devices) {
      state.status = status;
      var pill = $('#mfa-status');
      pill.textContent = status.enabled ? 'Two-factor authentication: On' : 'Two-factor authentication: Off';
      pill.className = 'pill ' + (status.enabled ? 'on' : 'off');

      var list = $('#factor-list');
      list.textContent = '';
      $('#factors-empty').hidden = status.factors.length > 0;
      status.factors.forEach(function (f) {
        list.appendChild(el('li', { 'data-factor-id': f.id, 'data-type': f.type },
          el('span', { class: 'icon ' + f.type, 'aria-hidden': 'true' }),
          el('div', { class: 'grow' },
            el('strong', null, f.label || typeName(f)),
            el('div', { class: 'muted small' }, [
              f.label && f.label !== typeName(f) ? typeName(f) : null, f.destination,
              'added ' + when(f.createdAt), 'last used ' + when(f.lastUsedAt),
            ].filter(Boolean).join(' \u00b7 '))),
          el('button', { type: 'button', class: 'secondary small remove-factor', 'aria-label': 'Remove ' + (f.label || typeName(f)), onclick: function () { removeFactor(f); } }, 'Remove')));
      });

      $('#backup-remaining').textContent = status.enabled
        ? status.backupCodesRemaining + ' of 10 backup codes left. Each works once, when you can\u2019t use your phone.'
        : 'You get 10 backup codes when you add your first factor.';
      $('#backup-regenerate').hidden = !status.enabled;
      $('#disable-card').hidden = !status.enabled;

      var dl = $('#device-list');
      dl.textContent = '';
      $('#devices-empty').hidden = devices.length > 0;
      devices.forEach(function (d) {
        dl.appendChild(el('li', { 'data-device-id': d.id },
          el('span', { class: 'icon device', 'aria-hidden': 'true' }),
          el('div', { class: 'grow' },
            el('strong', null, d.label || 'Browser', d.current ? el('span', { class: 'badge' }, 'This device') : null),
            el('div', { class: 'muted small' }, 'Trusted ' + when(d.createdAt) + ' \u00b7 last seen ' + when(d.lastSeenAt) + ' \u00b7 until ' + when(d.expiresAt))),
          el('button', { type: 'button', class: 'secondary small revoke-device', onclick: function () { revokeDevice(d); } }, 'Revoke')));
      });
    };
    var reload = function () {
      return Promise.all([api('GET', '/mfa/status'), api('GET', '/mfa/trusted-devices')])
        .then(function (r) { render(r[0], r[1].devices); });
    };
    var fail = function (error) { showAlert(error.message); };

    var removeFactor = function (f) {
      var last = state.status.factors.length === 1;
      askProof('Remove \u201c' + (f.label || typeName(f)) + '\u201d?',
        (last ? 'This is your last factor: two-factor authentication will be turned off. ' : '') +
        'Enter a current code from your authenticator app, or a backup code.')
        .then(function (proof) {
          if (!proof) return;
          return api('DELETE', '/mfa/factors/' + encodeURIComponent(f.id), proof).catch(proofRefused(proof))
            .then(reload).then(function () { showAlert('Factor removed.', 'success'); });
        }).catch(fail);
    };
    var revokeDevice = function (d) {
      api('DELETE', '/mfa/trusted-devices/' + encodeURIComponent(d.id))
        .then(reload).then(function () { showAlert('Device revoked: it will be asked for a code at the next sign-in.', 'success'); })
        .catch(fail);
    };

    // Authenticator app
    $('#totp-start').addEventListener('click', function () {
      clearAlert();
      proofForNewFactor().then(function (proof) {
        if (!proof) return;
        return api('POST', '/mfa/totp/setup', proof).catch(proofRefused(proof)).then(function (r) {
          state.pendingTotp = r.factorId;
          $('#totp-qr').src = r.qrCode;
          $('#totp-secret').textContent = r.secret.replace(/(.{4})(?=.)/g, '$1 ');
          $('#totp-setup').hidden = false;
          $('#totp-start').hidden = true;
          $('#totp-code').focus();
        });
      }).catch(fail);
    });
    onSubmit($('#totp-confirm'), function (data) {
      return api('POST', '/mfa/totp/confirm', { factorId: state.pendingTotp, code: String(data.get('code') || '').trim() })
        .then(function (r) {
          $('#totp-setup').hidden = true;
          $('#totp-start').hidden = false;
          $('#totp-qr').removeAttribute('src');
          $('#totp-secret').textContent = '';
          $('#totp-confirm').reset();
          showAlert('Authenticator app added.', 'success');
          if (r.backupCodes) showBackupCodes(r.backupCodes);
          return reload();
        });
    });

    // Security key or passkey: name it, let the browser create a credential, confirm it.
    // A key is bound to the site's name: on another origin (127.0.0.1 instead of localhost) the browser would refuse it.
    var keyOrigins = props.webauthnOrigins || [];
    if ($('#webauthn-setup') && (!keySupported() || keyOrigins.indexOf(location.origin) < 0)) {
      $('#webauthn-setup').hidden = true;
      $('#webauthn-unsupported').hidden = false;
      if (keySupported()) $('#webauthn-unsupported').textContent = 'Security keys work on this site only at ' + keyOrigins.join(' or ') + '.';
    }
    onSubmit($('#webauthn-setup'), function (data) {
      return proofForNewFactor().then(function (proof) {
        if (!proof) return;
        var label = String(data.get('label') || '').trim();
        if (label) proof.label = label;
        return api('POST', '/mfa/webauthn/setup', proof).catch(proofRefused(proof))
          .then(function (r) {
            return createKey(r.options).then(function (response) {
              return api('POST', '/mfa/webauthn/confirm', { factorId: r.factorId, response: response })
                .catch(function (error) { throw keyFailure(error); });
            });
          })
          .then(function (r) {
            $('#webauthn-setup').reset();
            showAlert('Security key added.', 'success');
            if (r.backupCodes) showBackupCodes(r.backupCodes);
            return reload();
          });
      });
    });

    // Phone (SMS)
    onSubmit($('#sms-setup'), function (data) {
      return proofForNewFactor().then(function (proof) {
        if (!proof) return;
        proof.phone = String(data.get('phone') || '').replace(/[\s()-]/g, '');
        return api('POST', '/mfa/sms/setup', proof).catch(proofRefused(proof)).then(function (r) {
          state.pendingSms = r.factorId;
          $('#sms-confirm').hidden = false;
          showAlert('Code sent to ' + r.sentTo + '.', 'success');
          $('#sms-code').focus();
          return showDevCode({ factorId: r.factorId }, $('#sms-dev-code'));
        });
      });
    });
    onSubmit($('#sms-confirm'), function (data) {
      return api('POST', '/mfa/sms/confirm', { factorId: state.pendingSms, code: String(data.get('code') || '').trim() })
        .then(function (r) {
          $('#sms-confirm').hidden = true;
          $('#sms-dev-code').hidden = true;
          $('#sms-setup').reset();
          $('#sms-confirm').reset();
          showAlert('Phone added.', 'success');
          if (r.backupCodes) showBackupCodes(r.backupCodes);
          return reload();
        });
    });

    // Backup codes
    $('#backup-regenerate').addEventListener('click', function () {
      clearAlert();
      askProof('Generate new backup codes?', 'Your current backup codes will stop working. Enter a current code from your authenticator app, or a backup code.')
        .then(function (proof) {
          if (!proof) return;
          return api('POST', '/mfa/backup-codes/regenerate', proof).catch(proofRefused(proof)).then(function (r) {
            showBackupCodes(r.backupCodes);
            return reload();
          });
        }).catch(fail);
    });

    // Turn off
    var disableForm = $('#disable-form');
    disableForm.querySelectorAll('input[name="proof"]').forEach(function (radio) {
      radio.addEventListener('change', function () {
        var byPassword = disableForm.querySelector('input[name="proof"]:checked').value === 'password';
        var input = $('#disable-secret');
        input.type = byPassword ? 'password' : 'text';
        input.placeholder = byPassword ? 'Your password' : 'Code from your app, or a backup code';
        input.autocomplete = byPassword ? 'current-password' : 'one-time-code';
        input.value = '';
      });
    });
    onSubmit(disableForm, function (data) {
      var byPassword = data.get('proof') === 'password';
      var body = {};
      body[byPassword ? 'password' : 'code'] = String(data.get('secret') || '');
      return api('POST', '/mfa/disable', body).catch(function (error) {
        if (byPassword && error.code === 'invalid_code') error.message = 'That password is not right.';
        throw error;
      }).then(function () {
        disableForm.reset();
        $('#disable-secret').type = 'password';
        showAlert('Two-factor authentication is off.', 'success');
        return reload();
      });
    });

    reload().catch(fail);
  }

  // ---- step-up ----
  if (page === 'step-up') {
    var stepUpKey = $('#step-up-key');
    if (stepUpKey && !keySupported()) stepUpKey.hidden = true;
    if (stepUpKey) {
      stepUpKey.addEventListener('click', function () {
        clearAlert();
        stepUpKey.disabled = true;
        keyProof()
          .then(function (proof) { return api('POST', '/mfa/step-up', proof); })
          .then(function () { location.href = props.next || '/'; }, function (error) { showAlert(keyFailure(error).message); })
          .then(function () { stepUpKey.disabled = false; });
      });
    }
    onSubmit($('#step-up-form'), function (data) {
      return api('POST', '/mfa/step-up', { code: String(data.get('code') || '').trim() })
        .then(function () { location.href = props.next || '/'; });
    });
  }
})();
