/**
 * Personal data in what the dashboard shows: the payer's and payee's fields (`payer_key`,
 * `payee_key`, `payer_name`, any `payer_*` or `payee_*`) are masked unless the user asked to
 * reveal them, in the fields themselves and wherever their values appear in other text (a
 * rejection reason quotes the key it refused).
 * @module
 */

/** Whether a payment field holds personal data. */
export function isPersonalField(name: string): boolean {
  return /^(payer|payee)_/i.test(name);
}

/** The mask of one value: its first and last two characters when it is long enough, else dots. */
export function maskValue(value: string): string {
  const chars = [...value];
  return chars.length >= 8 ? `${chars.slice(0, 2).join("")}•••${chars.slice(-2).join("")}` : "•••";
}

/** Fields with the personal ones masked (unless `reveal`), and which ones were. */
export function maskFields(
  fields: Readonly<Record<string, string>>,
  reveal: boolean,
): { fields: Record<string, string>; masked: string[] } {
  const out: Record<string, string> = {};
  const masked: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (!reveal && isPersonalField(name) && value !== "") {
      out[name] = maskValue(value);
      masked.push(name);
    } else out[name] = value;
  }
  return { fields: out, masked };
}

/**
 * `text` with every personal value of `fields` in it masked (unless `reveal`). A reason quotes at
 * most the first 40 characters of a value, so those are masked too.
 */
export function maskText(
  text: string,
  fields: Readonly<Record<string, string>> | undefined,
  reveal: boolean,
): string {
  if (reveal || !fields) return text;
  const values = Object.entries(fields)
    .filter(([name, value]) => isPersonalField(name) && value.trim() !== "")
    .flatMap(([, value]) => [value, [...value].slice(0, 40).join("")])
    .sort((a, b) => b.length - a.length);
  let out = text;
  for (const value of values) out = out.split(value).join(maskValue(value));
  return out;
}
