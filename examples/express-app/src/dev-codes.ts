// examples/express-app/src/dev-codes.ts
// Development only: SMS codes are not sent but written to the console sender, and the pages show
// "dev mode: your code is …". Never active with NODE_ENV=production (consoleSender refuses devMode there).
import { consoleSender, maskPhone, type CodeSender } from '@secondfactor/core';

export interface DevSmsSender extends CodeSender {
  /** The last code sent to the number shown as `sentTo` (the masked number the MFA API returns). */
  lastCodeFor(sentTo: string): string | undefined;
}

export function devSmsSender(log?: (line: string) => void): DevSmsSender {
  const inner = consoleSender({ devMode: true, channel: 'sms', ...(log ? { log } : {}) });
  const numberByMask = new Map<string, string>();
  return {
    async send(message) {
      await inner.send(message);
      numberByMask.set(maskPhone(message.to), message.to);
    },
    lastCodeFor(sentTo) {
      const to = numberByMask.get(sentTo);
      return to === undefined ? undefined : inner.lastCode(to);
    },
  };
}
