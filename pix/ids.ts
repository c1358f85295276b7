/**
 * UUIDv7 transaction ids: time-ordered and unique across processes (the original's random
 * 6-digit ids collide after a few thousand payments).
 * @module
 */

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const pool = new Uint8Array(16 * 1024);
let poolOffset = pool.length;

/** Returns a new RFC 9562 UUIDv7 string. */
export function uuidv7(nowMs: number = Date.now()): string {
  if (poolOffset + 10 > pool.length) {
    crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  const r = pool.subarray(poolOffset, poolOffset + 10);
  poolOffset += 10;
  const ms = Math.floor(nowMs);
  const high = Math.floor(ms / 2 ** 16);
  const low = ms % 2 ** 16;
  const b = [
    (high >>> 24) & 0xff,
    (high >>> 16) & 0xff,
    (high >>> 8) & 0xff,
    high & 0xff,
    (low >>> 8) & 0xff,
    low & 0xff,
    0x70 | (r[0] & 0x0f),
    r[1],
    0x80 | (r[2] & 0x3f),
    r[3],
    r[4],
    r[5],
    r[6],
    r[7],
    r[8],
    r[9],
  ]; // deno-fmt-ignore
  return `${HEX[b[0]]}${HEX[b[1]]}${HEX[b[2]]}${HEX[b[3]]}-${HEX[b[4]]}${HEX[b[5]]}-` +
    `${HEX[b[6]]}${HEX[b[7]]}-${HEX[b[8]]}${HEX[b[9]]}-` +
    `${HEX[b[10]]}${HEX[b[11]]}${HEX[b[12]]}${HEX[b[13]]}${HEX[b[14]]}${HEX[b[15]]}`;
}
