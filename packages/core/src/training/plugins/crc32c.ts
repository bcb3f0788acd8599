/**
 * CRC-32C (Castagnoli; reflected polynomial 0x82F63B78), table driven, as TFRecord / tfevents
 * files use it. `crc32c("123456789") === 0xE3069283` (the standard check value).
 */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of `bytes` (or of a string's UTF-8 bytes), as an unsigned 32-bit number. */
export function crc32c(bytes: Uint8Array | string): number {
  const b = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  let crc = 0xffffffff;
  for (let i = 0; i < b.length; i++) crc = TABLE[(crc ^ b[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: `((crc >>> 15) | (crc << 17)) + 0xa282ead8` (mod 2^32). */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}
