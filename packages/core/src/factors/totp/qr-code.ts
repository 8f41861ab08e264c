// packages/core/src/factors/totp/qr-code.ts
// The otpauth URI as a QR code, rendered locally (never by a third-party service): the symbol
// comes from `qrcode` (encoding, error correction M, masking); the PNG and SVG are written here
// from its module matrix — a few KB of deflate (node:zlib) instead of qrcode's pure-JS PNG
// pipeline. The PNG is built one module row at a time (a scanline copied SCALE times) and the
// checksums come from zlib, so a render costs about QRCode.create itself: under Jest's VM, where
// every test file runs the code cold, that is what keeps enrolment cheap.
import { crc32, deflateSync } from 'node:zlib';
import type QRCodeModule from 'qrcode';

/** `qrcode`, loaded on the first rendering (a server that enrols nobody never needs it). */
let qrcode: typeof QRCodeModule | undefined;

const MARGIN = 2; // modules of quiet zone on each side (as before)
const SCALE = 6; // PNG pixels per module
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * 8-bit greyscale PNG of the symbol: black modules on white, SCALE px each, MARGIN modules of
 * quiet zone. `dark` is the size×size module matrix, row by row (non-zero: dark).
 */
function png(size: number, dark: Uint8Array): string {
  const width = (size + 2 * MARGIN) * SCALE;
  const stride = width + 1; // a filter byte, then the pixels
  const raw = Buffer.alloc(stride * width, 0xff);
  for (let y = 0; y < width; y++) raw[y * stride] = 0; // filter: none
  for (let row = 0; row < size; row++) {
    const first = (row + MARGIN) * SCALE * stride; // the module row's first scanline
    for (let col = 0; col < size; col++) {
      if (dark[row * size + col] !== 0) raw.fill(0x00, first + 1 + (col + MARGIN) * SCALE, first + 1 + (col + MARGIN + 1) * SCALE);
    }
    for (let k = 1; k < SCALE; k++) raw.copyWithin(first + k * stride, first, first + stride);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(width, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // colour type: greyscale
  const file = Buffer.concat([PNG_SIGNATURE, chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
  return `data:image/png;base64,${file.toString('base64')}`;
}

/** SVG of the symbol, one path with a run per row of dark modules (viewBox in modules). */
function svg(size: number, dark: Uint8Array): string {
  const width = size + 2 * MARGIN;
  let d = '';
  for (let row = 0; row < size; row++) {
    const at = row * size;
    for (let col = 0; col < size; ) {
      if (dark[at + col] === 0) {
        col++;
        continue;
      }
      let run = 1;
      while (col + run < size && dark[at + col + run] !== 0) run++;
      d += `M${col + MARGIN} ${row + MARGIN}h${run}v1h-${run}z`;
      col += run;
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${width}" shape-rendering="crispEdges">`
    + `<path fill="#ffffff" d="M0 0h${width}v${width}H0z"/><path fill="#000000" d="${d}"/></svg>`;
}

/** The URI as a QR code: a PNG data URL and an SVG (both decode back to exactly `uri`). */
export function renderQrCode(uri: string): { png: string; svg: string } {
  qrcode ??= require('qrcode') as typeof QRCodeModule;
  const { modules } = qrcode.create(uri, { errorCorrectionLevel: 'M' });
  return { png: png(modules.size, modules.data), svg: svg(modules.size, modules.data) };
}
