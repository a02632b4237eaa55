let lastMillis = -1;
const POOL_SIZE = 4096;
let pool = new Uint8Array(0);
let poolOffset = 0;

/** 16 random bytes from a pooled buffer: one getRandomValues call per 256 ids. */
function randomBytes(): Uint8Array {
  if (poolOffset + 16 > pool.length) {
    pool = new Uint8Array(POOL_SIZE);
    globalThis.crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  const bytes = pool.slice(poolOffset, poolOffset + 16);
  poolOffset += 16;
  return bytes;
}
let sequence = 0;

/**
 * A new UUIDv7 string: time-ordered, and strictly increasing within one
 * process (a 12-bit counter orders ids made in the same millisecond), so ids
 * generated later sort later by code point.
 *
 * ### Examples
 * ```ts
 * import { generateId } from '@berth/core';
 *
 * const first = generateId();
 * const second = generateId();
 * console.log(first < second); // true
 * ```
 */
export function generateId(): string {
  let millis = Date.now();
  if (millis <= lastMillis) {
    sequence += 1;
    if (sequence > 0xfff) {
      // Counter exhausted within one millisecond: borrow the next one.
      lastMillis += 1;
      sequence = 0;
    }
    millis = lastMillis;
  } else {
    lastMillis = millis;
    sequence = 0;
  }
  const bytes = randomBytes();
  const high = Math.floor(millis / 2 ** 16);
  bytes[0] = (high >>> 24) & 0xff;
  bytes[1] = (high >>> 16) & 0xff;
  bytes[2] = (high >>> 8) & 0xff;
  bytes[3] = high & 0xff;
  bytes[4] = (millis >>> 8) & 0xff;
  bytes[5] = millis & 0xff;
  bytes[6] = 0x70 | ((sequence >>> 8) & 0x0f);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
