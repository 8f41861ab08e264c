// packages/twilio/src/sms-segments.ts
// How much text fits in one SMS segment: 160 GSM-7 septets, or 70 UTF-16 units once any character needs UCS-2.

// GSM 03.38 default alphabet (one septet each), without the escape character.
const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
// GSM 03.38 extension table (escape + character: two septets each).
const GSM7_EXTENDED = '\f^{}\\[~]|€';

const BASIC = new Set(GSM7_BASIC);
const EXTENDED = new Set(GSM7_EXTENDED);

/** Single-segment capacity in GSM-7 septets. */
const GSM7_SEGMENT_SEPTETS = 160;
/** Single-segment capacity in UTF-16 code units (UCS-2). */
const UCS2_SEGMENT_UNITS = 70;

/** Septets `text` needs in GSM-7, or `undefined` when some character is outside GSM-7 (the SMS goes as UCS-2). */
export function gsm7Septets(text: string): number | undefined {
  let septets = 0;
  for (const char of text) {
    if (BASIC.has(char)) septets += 1;
    else if (EXTENDED.has(char)) septets += 2;
    else return undefined;
  }
  return septets;
}

/** True when `text` is sent as a single SMS segment (no concatenation). */
export function fitsOneSegment(text: string): boolean {
  const septets = gsm7Septets(text);
  return septets === undefined ? text.length <= UCS2_SEGMENT_UNITS : septets <= GSM7_SEGMENT_SEPTETS;
}
