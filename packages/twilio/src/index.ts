// packages/twilio/src/index.ts
// @secondfactor/twilio: an SMS CodeSender over the official twilio SDK.
export { twilioSms } from './twilio-sms';
export type { TwilioSmsOptions, TwilioSmsCredentialsOptions, TwilioSmsClientOptions, TwilioMessagesClient } from './options';
export { TwilioTransportError } from './map-error';
