/**
 * One strict JSON reading for every HTTP body fastpix accepts (the gateway and the Rinha API):
 * RFC 8259 syntax, a key given twice in one object refused (`"amount":"1.00","amount":"999999.00"`
 * has no one meaning; `JSON.parse` would silently keep the last), and numbers kept as their exact
 * source text, never rounded through a float (`19.999999999999999` stays that text, where
 * `JSON.parse` reads 20). Amount rules then apply to that text: see {@link amountRejection}.
 * @module
 */
import { ErrorCode, type ErrorCodeValue } from "./validation.ts";

/** A JSON number as written in the source (`19.90`, `1e2`, `-0`). */
export class JsonNumber {
  constructor(readonly source: string) {}
}

/** What {@link parseStrictJson} builds: JSON values, with numbers as {@link JsonNumber}. */
export type StrictJsonValue =
  | string
  | JsonNumber
  | boolean
  | null
  | StrictJsonValue[]
  | { [key: string]: StrictJsonValue };

/** The outcome of {@link parseStrictJson}. */
export type StrictJsonResult =
  | { ok: true; value: StrictJsonValue }
  | {
    ok: false;
    /** `syntax`: not JSON; `duplicate_key`: valid JSON, but an object names a key twice. */
    problem: "syntax" | "duplicate_key";
    /** One line: what is wrong and where (character offset). */
    message: string;
  };

/** Deepest nesting accepted (deeper input is refused instead of exhausting the stack). */
export const MAX_JSON_DEPTH = 64;

class Failure {
  constructor(readonly problem: "syntax" | "duplicate_key", readonly message: string) {}
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPES: Record<string, string> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

/** A short, printable quote of `text` for messages. */
function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? text.slice(0, 40) + "…" : text);
}

class Reader {
  i = 0;
  constructor(readonly text: string) {}

  fail(what: string): never {
    const at = this.i;
    const found = at >= this.text.length ? "the end" : quote(this.text.slice(at, at + 1));
    throw new Failure("syntax", `expected ${what} at position ${at}, found ${found}`);
  }

  space(): void {
    const t = this.text;
    let i = this.i;
    for (;;) {
      const c = t.charCodeAt(i);
      if (c === 32 || c === 10 || c === 13 || c === 9) i++;
      else break;
    }
    this.i = i;
  }

  value(depth: number): StrictJsonValue {
    this.space();
    const c = this.text[this.i];
    switch (c) {
      case "{":
        return this.object(depth + 1);
      case "[":
        return this.array(depth + 1);
      case '"':
        return this.string();
      case "t":
        return this.word("true", true);
      case "f":
        return this.word("false", false);
      case "n":
        return this.word("null", null);
      default: {
        NUMBER.lastIndex = this.i;
        const m = NUMBER.exec(this.text);
        if (m === null) this.fail("a JSON value");
        this.i += m[0].length;
        return new JsonNumber(m[0]);
      }
    }
  }

  word<T>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.i)) this.fail(word);
    this.i += word.length;
    return value;
  }

  string(): string {
    const t = this.text;
    let i = ++this.i; // after the opening quote
    let out = "";
    let from = i;
    for (;;) {
      const c = t.charCodeAt(i);
      if (c === 34) break; // "
      if (Number.isNaN(c)) {
        this.i = i;
        this.fail("the end of the string");
      }
      if (c < 32) {
        this.i = i;
        this.fail("an escaped control character");
      }
      if (c !== 92) {
        i++;
        continue;
      }
      out += t.slice(from, i);
      const e = t[i + 1];
      if (e === "u") {
        const hex = t.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
          this.i = i;
          this.fail("four hex digits after \\u");
        }
        out += String.fromCharCode(parseInt(hex, 16));
        i += 6;
      } else if (e !== undefined && e in ESCAPES) {
        out += ESCAPES[e];
        i += 2;
      } else {
        this.i = i;
        this.fail("a valid escape");
      }
      from = i;
    }
    this.i = i + 1;
    return out + t.slice(from, i);
  }

  object(depth: number): { [key: string]: StrictJsonValue } {
    if (depth > MAX_JSON_DEPTH) throw new Failure("syntax", `nested deeper than ${MAX_JSON_DEPTH}`);
    this.i++; // {
    // An ordinary object, with "__proto__" defined as a plain own key so it cannot set the prototype.
    const object: { [key: string]: StrictJsonValue } = {};
    this.space();
    if (this.text[this.i] === "}") {
      this.i++;
      return object;
    }
    for (;;) {
      this.space();
      if (this.text[this.i] !== '"') this.fail("a key in double quotes");
      const at = this.i;
      const key = this.string();
      if (Object.hasOwn(object, key)) {
        throw new Failure(
          "duplicate_key",
          `key ${quote(key)} appears twice in one object (again at position ${at}): send it once`,
        );
      }
      this.space();
      if (this.text[this.i] !== ":") this.fail('":"');
      this.i++;
      const value = this.value(depth);
      if (key === "__proto__") {
        Object.defineProperty(object, key, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else object[key] = value;
      this.space();
      const c = this.text[this.i];
      this.i++;
      if (c === "}") return object;
      if (c !== ",") {
        this.i--;
        this.fail('"," or "}"');
      }
    }
  }

  array(depth: number): StrictJsonValue[] {
    if (depth > MAX_JSON_DEPTH) throw new Failure("syntax", `nested deeper than ${MAX_JSON_DEPTH}`);
    this.i++; // [
    const array: StrictJsonValue[] = [];
    this.space();
    if (this.text[this.i] === "]") {
      this.i++;
      return array;
    }
    for (;;) {
      array.push(this.value(depth));
      this.space();
      const c = this.text[this.i];
      this.i++;
      if (c === "]") return array;
      if (c !== ",") {
        this.i--;
        this.fail('"," or "]"');
      }
    }
  }
}

/**
 * Parses `text` as one JSON value, strictly: duplicate keys in any object are refused, numbers
 * come back as {@link JsonNumber} with their exact source text. Never throws.
 */
export function parseStrictJson(text: string): StrictJsonResult {
  const reader = new Reader(text);
  try {
    const value = reader.value(0);
    reader.space();
    if (reader.i !== text.length) reader.fail("the end of the JSON text");
    return { ok: true, value };
  } catch (error) {
    if (error instanceof Failure) {
      return { ok: false, problem: error.problem, message: error.message };
    }
    throw error;
  }
}

/** The outcome of {@link parseJsonObject}. */
export type JsonObjectResult =
  | { ok: true; object: { [key: string]: StrictJsonValue } }
  | { ok: false; code: ErrorCodeValue; message: string };

/** What kind of JSON value `value` is, for messages: `null`, `an array`, `a number`... */
export function describeJson(value: StrictJsonValue): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof JsonNumber) return "a number";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/**
 * Reads a request body that must be one JSON object, with {@link parseStrictJson}; otherwise says
 * why with the request codes both servers answer 400 with: not JSON
 * ({@link ErrorCode.REQUEST_JSON_INVALID}), a key given twice
 * ({@link ErrorCode.REQUEST_JSON_DUPLICATE_KEY}), or JSON but not an object
 * ({@link ErrorCode.REQUEST_NOT_AN_OBJECT}).
 */
export function parseJsonObject(text: string): JsonObjectResult {
  const parsed = parseStrictJson(text);
  if (!parsed.ok) {
    return parsed.problem === "duplicate_key"
      ? {
        ok: false,
        code: ErrorCode.REQUEST_JSON_DUPLICATE_KEY,
        message: `Cannot read the body: ${parsed.message}`,
      }
      : {
        ok: false,
        code: ErrorCode.REQUEST_JSON_INVALID,
        message: `Cannot parse the body as JSON: ${parsed.message}`,
      };
  }
  const value = parsed.value;
  if (
    typeof value !== "object" || value === null || Array.isArray(value) ||
    value instanceof JsonNumber
  ) {
    return {
      ok: false,
      code: ErrorCode.REQUEST_NOT_AN_OBJECT,
      message: `Body must be a JSON object, not ${describeJson(value)}`,
    };
  }
  return { ok: true, object: value };
}
