// packages/twilio/test/local-request-client.ts
// The real twilio SDK's HTTP client, re-pointed from https://api.twilio.com to a local fake.
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient';

export class LocalRequestClient extends twilio.RequestClient {
  private readonly base: string;

  /** `base` is `http://127.0.0.1:<port>`; `options` go to the SDK's RequestClient (e.g. `timeout`). */
  constructor(base: string, options?: RequestClient.RequestClientOptions) {
    super(options);
    this.base = base;
  }

  override request<T>(opts: RequestClient.RequestOptions<T>) {
    const url = new URL(opts.uri);
    return super.request({ ...opts, uri: this.base + url.pathname + url.search, headers: { ...opts.headers, 'x-twilio-host': url.host } });
  }
}
