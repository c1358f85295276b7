/**
 * Secrets out of log and error lines: the one place that knows what a password looks like in a
 * PostgreSQL DSN or a Redis URL. Every line that prints a DSN or URL goes through {@link redactUrl}
 * or {@link redactSecrets}. Both work on the text, not on a parsed URL, so a URL that does not
 * parse (a password with an unencoded `#`, `/`, `?` or `@`) is redacted too, never printed raw.
 * @module
 */

/** What replaces a secret. */
export const REDACTED = "***";

/** `scheme://` at the start of a URL. */
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/** Keys whose value is a secret in a key=value DSN (libpq's, and common spellings). */
const SECRET_KEYS = "password|passwd|pass|pwd|sslpassword";

/** `password=...` in a query string (`?password=x&...`): up to the next `&` or space. */
const QUERY_SECRET = new RegExp(`([?&;](?:${SECRET_KEYS}|auth|token|secret)=)[^&\\s]*`, "gi");

/**
 * `password=...` in a key=value DSN (`host=h password='x y' dbname=d`) or any text: a quoted value
 * up to its closing quote, else up to the next space (as libpq reads it).
 */
const KEY_VALUE_SECRET = new RegExp(
  `(^|[\\s,({\\["'])((?:${SECRET_KEYS})\\s*=\\s*)('(?:[^'\\\\]|\\\\.)*'?|"(?:[^"\\\\]|\\\\.)*"?|\\S+)`,
  "gi",
);

/**
 * `url` without its secrets, for logs: the password of the userinfo (`user:***@host`) and any
 * `password=`-like query parameter. The userinfo is taken to end at the last `@`, so a password
 * holding `#`, `/`, `?`, `@` or `%` (percent-encoded or not) is hidden whole; a string that is no
 * URL at all is still searched for `user:password@` and `password=`. A URL without a password
 * comes back as it was (less a trailing `/`).
 */
export function redactUrl(url: string): string {
  const scheme = SCHEME.exec(url)?.[0] ?? "";
  let rest = url.slice(scheme.length);
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(":");
    if (colon >= 0 && colon < userinfo.length - 1) {
      rest = `${userinfo.slice(0, colon)}:${REDACTED}${rest.slice(at)}`;
    }
  }
  rest = rest.replace(QUERY_SECRET, `$1${REDACTED}`).replace(/\/$/, "");
  return (scheme + rest).replace(KEY_VALUE_SECRET, `$1$2${REDACTED}`);
}

/**
 * `text` (a log line, an error message) with every secret it holds redacted: each URL-like word
 * (`scheme://...` up to a space) as {@link redactUrl} does, and `password=...` values of
 * key=value DSNs.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(/[A-Za-z][A-Za-z0-9+.-]*:\/\/\S+/g, (url) => redactUrl(url))
    .replace(KEY_VALUE_SECRET, `$1$2${REDACTED}`);
}
