// test/support/http-client.ts
// A tiny HTTP client with its own cookie jar, for end-to-end tests against app processes:
// each client is one browser/user agent; cookies set by one instance go to every instance.
export interface HttpResult {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: the suites read response bodies field by field
  body: any;
  headers: Headers;
  /** Names of the cookies this response set (or cleared). */
  setCookies: string[];
}

export class HttpClient {
  readonly cookies = new Map<string, string>();

  constructor(private readonly headers: Record<string, string> = {}) {}

  /** `body` is sent as JSON, or as a form when it is URLSearchParams. Redirects are not followed. */
  async request(url: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const isForm = body instanceof URLSearchParams;
    const res = await fetch(url, {
      method,
      redirect: 'manual',
      headers: {
        ...(body === undefined ? {} : { 'content-type': isForm ? 'application/x-www-form-urlencoded' : 'application/json' }),
        ...(cookie ? { cookie } : {}),
        ...this.headers,
        ...headers,
      },
      body: body === undefined ? undefined : isForm ? body.toString() : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const setCookies: string[] = [];
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      setCookies.push(name);
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=thu, 01 jan 1970/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed, headers: res.headers, setCookies };
  }

  get(url: string, headers?: Record<string, string>) {
    return this.request(url, 'GET', undefined, headers);
  }

  post(url: string, body: unknown = {}, headers?: Record<string, string>) {
    return this.request(url, 'POST', body, headers);
  }
}
