/**
 * API keys for the HTTP tools (the dashboard now, the gateway later): parsed from an env var such
 * as `DASHBOARD_API_KEYS` or `GATEWAY_API_KEYS` (comma-separated), and checked in constant time.
 * A candidate is hashed (SHA-256) and compared with every key's hash with `timingSafeEqual`,
 * without stopping at the first match, so neither a key's length nor its position nor how many of
 * its characters match shows in the time a check takes.
 * @module
 */
import type { Buffer } from "node:buffer";
import { createHash, timingSafeEqual } from "node:crypto";
import { UserError } from "@fastpix/pix";

/** Fewest characters of a key: a short key is guessable over the network. */
export const MIN_API_KEY_LENGTH = 16;

/**
 * The keys in `text` (`key1,key2`; spaces around commas ignored; empty: none). Throws a
 * {@link UserError} naming `source` for a key that is too short or not printable ASCII.
 */
export function parseApiKeys(text: string | undefined, source = "API keys"): string[] {
  const keys = (text ?? "").split(",").map((k) => k.trim()).filter((k) => k !== "");
  for (const [i, key] of keys.entries()) {
    if (!/^[\x21-\x7e]+$/.test(key)) {
      throw new UserError(`${source}: key ${i + 1} has characters other than printable ASCII`);
    }
    if (key.length < MIN_API_KEY_LENGTH) {
      throw new UserError(
        `${source}: key ${i + 1} has ${key.length} characters; at least ${MIN_API_KEY_LENGTH}`,
      );
    }
  }
  return keys;
}

/**
 * The keys of the first of `names` that is set and not empty (`DASHBOARD_API_KEYS`, then
 * `GATEWAY_API_KEYS`, say), with the variable's name; no keys when none is set.
 */
export function apiKeysFromEnv(names: readonly string[]): { keys: string[]; source?: string } {
  for (const name of names) {
    const value = Deno.env.get(name);
    if (value !== undefined && value.trim() !== "") {
      return { keys: parseApiKeys(value, name), source: name };
    }
  }
  return { keys: [] };
}

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();

/** Checks candidates against a set of keys in constant time. */
export class ApiKeyCheck {
  readonly #digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.#digests = keys.map(digest);
  }

  /** Whether any key is configured (no keys: nothing to check against, every check fails). */
  get enabled(): boolean {
    return this.#digests.length > 0;
  }

  /** Whether `candidate` is one of the keys; the time taken does not depend on which or how close. */
  matches(candidate: string | null | undefined): boolean {
    if (typeof candidate !== "string" || candidate === "") return false;
    const given = digest(candidate);
    let found = false;
    for (const key of this.#digests) found = timingSafeEqual(given, key) || found;
    return found;
  }
}
