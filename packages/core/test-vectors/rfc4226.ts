// packages/core/test-vectors/rfc4226.ts
// RFC 4226 Appendix D — HOTP test values (SHA-1, 6 digits), verbatim.
// https://www.rfc-editor.org/rfc/rfc4226#appendix-D

/** Secret = ASCII "12345678901234567890" (0x3132333435363738393031323334353637383930). */
export const RFC4226_SECRET_ASCII = '12345678901234567890';

export interface HotpVector {
  title: string;
  count: number;
  /** Table 1: HMAC-SHA-1(secret, count), hex. */
  hmacHex: string;
  /** Table 2: truncated value, hex and decimal. */
  truncatedHex: string;
  truncatedDecimal: number;
  hotp: string;
}

const row = (count: number, hmacHex: string, truncatedHex: string, truncatedDecimal: number, hotp: string): HotpVector => ({
  title: `RFC 4226 Appendix D, count ${count}`, count, hmacHex, truncatedHex, truncatedDecimal, hotp,
});

export const RFC4226_VECTORS: HotpVector[] = [
  row(0, 'cc93cf18508d94934c64b65d8ba7667fb7cde4b0', '4c93cf18', 1284755224, '755224'),
  row(1, '75a48a19d4cbe100644e8ac1397eea747a2d33ab', '41397eea', 1094287082, '287082'),
  row(2, '0bacb7fa082fef30782211938bc1c5e70416ff44', '82fef30', 137359152, '359152'),
  row(3, '66c28227d03a2d5529262ff016a1e6ef76557ece', '66ef7655', 1726969429, '969429'),
  row(4, 'a904c900a64b35909874b33e61c5938a8e15ed1c', '61c5938a', 1640338314, '338314'),
  row(5, 'a37e783d7b7233c083d4f62926c7a25f238d0316', '33c083d4', 868254676, '254676'),
  row(6, 'bc9cd28561042c83f219324d3c607256c03272ae', '7256c032', 1918287922, '287922'),
  row(7, 'a4fb960c0bc06e1eabb804e5b397cdc4b45596fa', '4e5b397', 82162583, '162583'),
  row(8, '1b3c89f65e6c9e883012052823443f048b4332db', '2823443f', 673399871, '399871'),
  row(9, '1637409809a679dc698207310c8c7fc07290d9e5', '2679dc69', 645520489, '520489'),
];

/** RFC 4226 §5.4 worked example: HMAC bytes → offset 0xa → DBC 0x50ef7f19 → 872921. */
export const RFC4226_SECTION_5_4 = {
  title: 'RFC 4226 §5.4 dynamic truncation example',
  hmacHex: '1f8698690e02ca16618550ef7f19da8e945b555a',
  offset: 0xa,
  dbcHex: '50ef7f19',
  hotp: '872921',
};
