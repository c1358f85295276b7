/**
 * API keys at the edge: a request carries `Authorization: Bearer <key>` or `X-API-Key: <key>`.
 * Keys are compared through their SHA-256 digests with a loop that looks at every byte of every
 * configured key whatever matches, so the time taken says nothing about how close a guess was.
 * Keys are never logged; messages name how many there are, not what they are.
 * @module
 */

/** Shortest accepted key. */
export const MIN_API_KEY_LENGTH = 16;

/**
 * Splits `GATEWAY_API_KEYS` (comma-separated; blanks around commas ignored) into keys. Returns
 * the keys or a one-line reason that never quotes a key.
 */
export function parseApiKeys(text: string): { keys: string[] } | { problem: string } {
  const keys = text.split(",").map((k) => k.trim()).filter((k) => k !== "");
  if (keys.length === 0) return { problem: "Expected at least one key" };
  for (const [i, key] of keys.entries()) {
    if (!/^[\x21-\x7e]+$/.test(key) || key.length < MIN_API_KEY_LENGTH || key.length > 256) {
      return {
        problem: `Key ${i + 1} of ${keys.length} is not ${MIN_API_KEY_LENGTH}-256 printable ` +
          "characters without spaces or commas",
      };
    }
  }
  return { keys };
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** The key a request presents, if any. */
export function presentedKey(headers: Headers): string | undefined {
  const auth = headers.get("authorization");
  if (auth !== null) {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(auth);
    if (m !== null) return m[1];
  }
  return headers.get("x-api-key")?.trim() || undefined;
}

/** A set of accepted keys, kept as digests. */
export class ApiKeys {
  private constructor(readonly digests: readonly Uint8Array[]) {}

  /** Digests `keys` (the keys themselves are not kept). */
  static async of(keys: readonly string[]): Promise<ApiKeys> {
    return new ApiKeys(await Promise.all(keys.map(digest)));
  }

  get size(): number {
    return this.digests.length;
  }

  /** Whether `key` is one of them, in time independent of which bytes match. */
  async accepts(key: string | undefined): Promise<boolean> {
    const given = await digest(key ?? "");
    let matches = 0;
    for (const known of this.digests) {
      let diff = 0;
      for (let i = 0; i < known.length; i++) diff |= known[i] ^ given[i];
      matches |= diff === 0 ? 1 : 0;
    }
    return key !== undefined && matches === 1;
  }
}
