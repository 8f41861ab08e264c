// packages/express/src/error-answer.ts
// Runs a function just before a response's headers go out, if its status is an error (≥ 400).
// The router uses it so that the cookies of a completed second step leave only with an answer
// that completes the login: a host's onLoginComplete that throws (the router's problem document)
// or answers an error itself (its session store is down, the account is suspended) sends them
// nowhere. Express and Node's own writers (res.json, res.send, res.redirect, res.end) all reach
// the headers through res.writeHead, so the hook wraps that method of this one response.
import type { ServerResponse } from 'node:http';

/** Calls `fn` once, synchronously, before `res` writes its headers with a status of 400 or more. */
export function beforeErrorAnswer(res: ServerResponse, fn: () => void): void {
  const writeHead = res.writeHead;
  let done = false;
  res.writeHead = function writeHeadOnce(this: ServerResponse, ...args: unknown[]) {
    const status = typeof args[0] === 'number' ? args[0] : this.statusCode;
    if (!done && status >= 400) {
      done = true;
      fn();
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
}
