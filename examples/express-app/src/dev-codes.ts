// examples/express-app/src/dev-codes.ts
// Development only (SMS_DEV_MODE=true): SMS codes are not sent but kept by the console sender, and
// the pages show "dev mode: your code is …" — only to the holder of the login challenge or to the
// signed-in owner of the phone (see POST /dev/sms-code). Never active with NODE_ENV=production
// (consoleSender refuses devMode there).
import { consoleSender, type CodeSender } from '@secondfactor/core';

export interface DevSmsSender extends CodeSender {
  /** The last code sent to this number (E.164, as stored on the factor). */
  lastCodeTo(phone: string): string | undefined;
}

export function devSmsSender(log?: (line: string) => void): DevSmsSender {
  const inner = consoleSender({ devMode: true, channel: 'sms', ...(log ? { log } : {}) });
  return {
    send: (message) => inner.send(message),
    lastCodeTo: (phone) => inner.lastCode(phone),
  };
}
