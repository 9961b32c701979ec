// Provably fair outcomes recomputed in the browser with WebCrypto, exactly as RULES.md says:
// bytes = HMAC-SHA256(key = server seed hex as ASCII, msg = "client_seed:nonce:round") for
// round 0, 1, 2 …, read as big-endian unsigned 32-bit integers; uniform(n) rejects values at or
// above 2^32 - (2^32 mod n).
const encoder = new TextEncoder();
const TWO_32 = 2 ** 32;

export const available = () => Boolean(globalThis.crypto?.subtle);

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sha256Hex(text) {
  return hex(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/** The stream's 32-bit integers, one HMAC block (8 integers) at a time. */
export async function* integers(serverSeed, clientSeed, nonce) {
  const key = await crypto.subtle.importKey(
    "raw", encoder.encode(serverSeed), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  for (let round = 0; ; round += 1) {
    const block = await crypto.subtle.sign("HMAC", key, encoder.encode(`${clientSeed}:${nonce}:${round}`));
    const view = new DataView(block);
    for (let offset = 0; offset < view.byteLength; offset += 4) yield view.getUint32(offset, false);
  }
}

export async function uniform(n, stream) {
  const limit = TWO_32 - (TWO_32 % n);
  for (;;) {
    const { value } = await stream.next();
    if (value < limit) return value % n;
  }
}

/** Spin and Win: r = uniform(sum of weights); the first segment whose cumulative weight > r. */
export async function spinOutcome(weights, serverSeed, clientSeed, nonce) {
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  const r = await uniform(total, integers(serverSeed, clientSeed, nonce));
  let cumulative = 0;
  for (let index = 0; index < weights.length; index += 1) {
    cumulative += weights[index];
    if (r < cumulative) return { r, segment: index };
  }
  throw new Error("r is always below the total weight");
}

/** Russian Roulette: bullet = uniform(6), then first_shooter_seat = uniform(2), one stream. */
export async function rouletteOutcome(serverSeed, clientSeed, nonce) {
  const stream = integers(serverSeed, clientSeed, nonce);
  const bullet = await uniform(6, stream);
  const firstShooterSeat = await uniform(2, stream);
  return { bullet, firstShooterSeat };
}
