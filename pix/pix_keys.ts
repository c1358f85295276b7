/**
 * PIX keys (chaves PIX) as the Central Bank's directory (DICT) writes them: CPF and CNPJ with their
 * check digits, e-mail, mobile phone `+55` with area code (DDD), and random keys (EVP, a UUID).
 * The type is told from the key's shape, then the key is checked against that type's rules.
 * @module
 */

/** The five kinds of PIX key. */
export type PixKeyType = "cpf" | "cnpj" | "email" | "phone" | "evp";

/** The outcome of {@link checkPixKey}: the type the key looks like, and what is wrong with it. */
export interface PixKeyCheck {
  /** `undefined` when the key has the shape of no PIX key. */
  type: PixKeyType | undefined;
  /** A one-line reason when the key is not valid; `undefined` when it is. */
  problem: string | undefined;
}

/** Brazilian area codes (DDD) in use. */
export const VALID_DDDS: ReadonlySet<string> = new Set(
  [
    "11-19",
    "21-22",
    "24-24",
    "27-28",
    "31-35",
    "37-38",
    "41-49",
    "51-51",
    "53-55",
    "61-69",
    "71-71",
    "73-75",
    "77-77",
    "79-79",
    "81-89",
    "91-99",
  ].flatMap((range) => {
    const [from, to] = range.split("-").map(Number);
    return Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
  }),
);

const CPF_PLAIN = /^\d{11}$/;
const CPF_MASKED = /^\d{3}\.\d{3}\.\d{3}-\d{2}$/;
// Since July 2026 the first 12 characters of a CNPJ may be letters (values: char code - 48).
const CNPJ_PLAIN = /^[0-9A-Z]{12}\d{2}$/;
const CNPJ_MASKED = /^[0-9A-Z]{2}\.[0-9A-Z]{3}\.[0-9A-Z]{3}\/[0-9A-Z]{4}-\d{2}$/;
const EVP = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PHONE = /^\+55(\d{2})(9\d{8})$/;
const EMAIL =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
/** The DICT's limit for e-mail keys. */
export const MAX_EMAIL_KEY_LENGTH = 77;

/** Mod-11 check digit over `values` with `weights`: remainder below 2 gives 0, else 11 - r. */
function mod11Digit(values: readonly number[], weights: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * weights[i];
  const r = sum % 11;
  return r < 2 ? 0 : 11 - r;
}

const CPF_WEIGHTS_1 = [10, 9, 8, 7, 6, 5, 4, 3, 2];
const CPF_WEIGHTS_2 = [11, 10, 9, 8, 7, 6, 5, 4, 3, 2];
const CNPJ_WEIGHTS_1 = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
const CNPJ_WEIGHTS_2 = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];

/** The two check digits of a CPF whose first 9 digits are `base` (e.g. `"529982247"` → `"25"`). */
export function cpfCheckDigits(base: string): string {
  if (!/^\d{9}$/.test(base)) throw new RangeError(`CPF base must be 9 digits, got "${base}"`);
  const values = [...base].map(Number);
  const first = mod11Digit(values, CPF_WEIGHTS_1);
  const second = mod11Digit([...values, first], CPF_WEIGHTS_2);
  return `${first}${second}`;
}

/**
 * The two check digits of a CNPJ whose first 12 characters are `base` (digits, or since 2026 also
 * upper-case letters, each worth its character code minus 48).
 */
export function cnpjCheckDigits(base: string): string {
  if (!/^[0-9A-Z]{12}$/.test(base)) {
    throw new RangeError(`CNPJ base must be 12 of 0-9 A-Z, got "${base}"`);
  }
  const values = [...base].map((c) => c.charCodeAt(0) - 48);
  const first = mod11Digit(values, CNPJ_WEIGHTS_1);
  const second = mod11Digit([...values, first], CNPJ_WEIGHTS_2);
  return `${first}${second}`;
}

/** Strips a CPF/CNPJ mask (`.`, `-`, `/`). */
function unmask(text: string): string {
  return text.replace(/[./-]/g, "");
}

/** Whether `text` is a CPF (plain or `000.000.000-00`) with matching check digits. */
export function isValidCpf(text: string): boolean {
  return cpfProblem(text) === undefined;
}

/** Whether `text` is a CNPJ (plain or `00.000.000/0000-00`) with matching check digits. */
export function isValidCnpj(text: string): boolean {
  return cnpjProblem(text) === undefined;
}

function cpfProblem(text: string): string | undefined {
  if (!CPF_PLAIN.test(text) && !CPF_MASKED.test(text)) return "a CPF has 11 digits";
  const digits = unmask(text);
  if (/^(\d)\1{10}$/.test(digits)) return "a CPF of one repeated digit is not valid";
  const expected = cpfCheckDigits(digits.slice(0, 9));
  return digits.slice(9) === expected ? undefined : "its CPF check digits do not match";
}

function cnpjProblem(text: string): string | undefined {
  if (!CNPJ_PLAIN.test(text) && !CNPJ_MASKED.test(text)) return "a CNPJ has 14 characters";
  const chars = unmask(text);
  if (/^(\d)\1{13}$/.test(chars)) return "a CNPJ of one repeated digit is not valid";
  const expected = cnpjCheckDigits(chars.slice(0, 12));
  return chars.slice(12) === expected ? undefined : "its CNPJ check digits do not match";
}

function emailProblem(text: string): string | undefined {
  if (text.length > MAX_EMAIL_KEY_LENGTH) {
    return `an e-mail key has at most ${MAX_EMAIL_KEY_LENGTH} characters`;
  }
  return EMAIL.test(text) ? undefined : "not an e-mail address such as name@example.com.br";
}

function phoneProblem(text: string): string | undefined {
  const m = PHONE.exec(text);
  if (m === null) return "a phone key is +55, a 2-digit area code and a 9-digit mobile number";
  return VALID_DDDS.has(m[1]) ? undefined : "its area code does not exist";
}

function evpProblem(text: string): string | undefined {
  return EVP.test(text) ? undefined : "a random key is a UUID such as 123e4567-e89b-42d3-a456-...";
}

/** Tells the key's type from its shape alone (`undefined`: no PIX key looks like this). */
export function pixKeyType(key: string): PixKeyType | undefined {
  if (key.includes("@")) return "email";
  if (key.startsWith("+")) return "phone";
  if (key.includes("-") && key.length >= 32 && /^[0-9a-f-]+$/i.test(key)) return "evp";
  if (CPF_PLAIN.test(key) || CPF_MASKED.test(key)) return "cpf";
  if (CNPJ_PLAIN.test(key) || CNPJ_MASKED.test(key)) return "cnpj";
  return undefined;
}

const PROBLEMS: Record<PixKeyType, (key: string) => string | undefined> = {
  cpf: cpfProblem,
  cnpj: cnpjProblem,
  email: emailProblem,
  phone: phoneProblem,
  evp: evpProblem,
};

/** Checks a PIX key: its type by shape, then that type's rules. */
export function checkPixKey(key: string): PixKeyCheck {
  const type = pixKeyType(key);
  if (type === undefined) {
    return {
      type,
      problem:
        "not a PIX key: use a CPF (11 digits), a CNPJ (14), an e-mail, +55 with area code and mobile number, or a random key (UUID)",
    };
  }
  return { type, problem: PROBLEMS[type](key) };
}
