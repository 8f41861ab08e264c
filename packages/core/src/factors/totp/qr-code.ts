// packages/core/src/factors/totp/qr-code.ts
// The otpauth URI as a QR code, rendered locally (never by a third-party service): the symbol
// comes from `qrcode` (encoding, error correction M, masking); the PNG and SVG are written here
// from its module matrix — a few KB of deflate (node:zlib) instead of qrcode's pure-JS PNG
// pipeline, which took ~10 ms in Node and over a second under Jest's VM per enrolment.
import { deflateSync } from 'node:zlib';
import QRCode from 'qrcode';

const MARGIN = 2; // modules of quiet zone on each side (as before)
const SCALE = 6; // PNG pixels per module

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** 8-bit greyscale PNG of the symbol: black modules on white, SCALE px each, MARGIN modules of quiet zone. */
function png(size: number, dark: (row: number, col: number) => boolean): string {
  const width = (size + 2 * MARGIN) * SCALE;
  const raw = Buffer.alloc((width + 1) * width, 0xff);
  for (let y = 0; y < width; y++) {
    const rowStart = y * (width + 1);
    raw[rowStart] = 0; // filter: none
    const row = Math.floor(y / SCALE) - MARGIN;
    if (row < 0 || row >= size) continue;
    for (let col = 0; col < size; col++) {
      if (dark(row, col)) raw.fill(0x00, rowStart + 1 + (col + MARGIN) * SCALE, rowStart + 1 + (col + MARGIN + 1) * SCALE);
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(width, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // colour type: greyscale
  const file = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0)),
  ]);
  return `data:image/png;base64,${file.toString('base64')}`;
}

/** SVG of the symbol, one path with a run per row of dark modules (viewBox in modules). */
function svg(size: number, dark: (row: number, col: number) => boolean): string {
  const width = size + 2 * MARGIN;
  let d = '';
  for (let row = 0; row < size; row++) {
    for (let col = 0; col < size; ) {
      if (!dark(row, col)) {
        col++;
        continue;
      }
      let run = 1;
      while (col + run < size && dark(row, col + run)) run++;
      d += `M${col + MARGIN} ${row + MARGIN}h${run}v1h-${run}z`;
      col += run;
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${width}" shape-rendering="crispEdges">`
    + `<path fill="#ffffff" d="M0 0h${width}v${width}H0z"/><path fill="#000000" d="${d}"/></svg>`;
}

/** The URI as a QR code: a PNG data URL and an SVG (both decode back to exactly `uri`). */
export function renderQrCode(uri: string): { png: string; svg: string } {
  const { modules } = QRCode.create(uri, { errorCorrectionLevel: 'M' });
  const dark = (row: number, col: number) => modules.get(row, col) !== 0;
  return { png: png(modules.size, dark), svg: svg(modules.size, dark) };
}
