/**
 * Who may use the dashboard. Without API keys (allowed only on a loopback address) everyone who
 * reaches it may, as long as the request names a loopback host (a page of another site that
 * rebinds its name to 127.0.0.1 names its own host and is refused). With keys, a request carries
 * one in `X-API-Key` or `Authorization: Bearer`, or the session cookie given by the login form or
 * by opening the page once with `?key=`. Keys are compared in constant time ({@link ApiKeyCheck});
 * sessions are random 256-bit tokens kept in memory for 12 hours. Changes (POST) must come from the
 * dashboard's own origin.
 * @module
 */
import { ApiKeyCheck } from "@fastpix/infra";

/** The session cookie's name. */
export const SESSION_COOKIE = "fastpix_dashboard";

/** How long a session lasts. */
export const SESSION_TTL_MS = 12 * 3600 * 1000;

/** Most sessions kept (the oldest are dropped past it). */
const MAX_SESSIONS = 1000;

/** Whether `hostname` (as given to listen on) is a loopback address. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

/** The host name of a `Host` header (`name:port`, `[v6]:port`). */
function hostOf(header: string): string {
  const bracketed = /^\[([^\]]+)\](:\d+)?$/.exec(header);
  return bracketed ? bracketed[1] : header.replace(/:\d+$/, "");
}

/** The value of cookie `name` in a `Cookie` header. */
export function cookieValue(header: string | null, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** API keys, sessions and the origin checks. */
export class Auth {
  readonly #keys: ApiKeyCheck;
  readonly #sessions = new Map<string, number>();

  constructor(keys: readonly string[]) {
    this.#keys = new ApiKeyCheck(keys);
  }

  /** Whether keys are required. */
  get required(): boolean {
    return this.#keys.enabled;
  }

  /** Whether `key` is one of the keys. */
  validKey(key: string | null | undefined): boolean {
    return this.#keys.matches(key);
  }

  /**
   * Why `request` may not be served at all (a foreign host without keys), or undefined. Without
   * keys only loopback host names are answered: that is what makes DNS rebinding useless.
   */
  refusal(request: Request): string | undefined {
    if (this.required) return undefined;
    const host = request.headers.get("host");
    return host !== null && isLoopback(hostOf(host)) ? undefined : "unknown host";
  }

  /** Whether a change (POST) comes from the dashboard's own page (or from no page: a script). */
  sameOrigin(request: Request): boolean {
    const origin = request.headers.get("origin");
    if (origin === null) return request.headers.get("sec-fetch-site") !== "cross-site";
    try {
      return new URL(origin).host === request.headers.get("host");
    } catch {
      return false;
    }
  }

  /** Whether `request` is let in: no keys required, a key header, or a live session cookie. */
  allows(request: Request): boolean {
    if (!this.required) return true;
    const header = request.headers.get("x-api-key") ??
      /^Bearer\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "")?.[1];
    if (header !== undefined && header !== null) return this.validKey(header);
    const token = cookieValue(request.headers.get("cookie"), SESSION_COOKIE);
    if (token === undefined) return false;
    const expires = this.#sessions.get(token);
    if (expires === undefined) return false;
    if (expires < Date.now()) {
      this.#sessions.delete(token);
      return false;
    }
    return true;
  }

  /** Starts a session; returns its `Set-Cookie` header. */
  startSession(): string {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    const token = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    this.#sessions.set(token, Date.now() + SESSION_TTL_MS);
    while (this.#sessions.size > MAX_SESSIONS) {
      this.#sessions.delete(this.#sessions.keys().next().value!);
    }
    return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${
      SESSION_TTL_MS / 1000
    }`;
  }

  /** Ends the session of `request`; returns the `Set-Cookie` header that clears the cookie. */
  endSession(request: Request): string {
    const token = cookieValue(request.headers.get("cookie"), SESSION_COOKIE);
    if (token !== undefined) this.#sessions.delete(token);
    return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
  }
}
