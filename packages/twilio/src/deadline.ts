// packages/twilio/src/deadline.ts
// A time limit on one send, whichever HTTP client the Twilio SDK uses underneath.

/** The send did not settle within the time limit. */
export class SendTimeoutError extends Error {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(`Twilio did not answer within ${timeoutMs} ms`);
    this.name = 'SendTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** `promise`, or a `SendTimeoutError` after `timeoutMs`; a late rejection of `promise` is swallowed. */
export async function withDeadline<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SendTimeoutError(timeoutMs)), timeoutMs);
  });
  promise.catch(() => undefined);
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
