/**
 * The dead-letter panel's reads and actions: the newest dead letters (optionally of one error
 * code) with personal data masked, and replay or purge of chosen ones through the same library
 * calls as `deno task dlq` ({@link moveDeadLetters}: each letter is moved atomically, once).
 * @module
 */
import { dlqKey, ErrorCode } from "@fastpix/pix";
import type { Redis } from "@fastpix/infra";
import {
  type DeadLetter,
  type LetterOutcome,
  moveDeadLetters,
  recentDeadLetters,
} from "@fastpix/consumer";
import { maskFields, maskText } from "./masking.ts";

/** A dead letter as the page shows it. */
export interface DeadLetterView {
  id: string;
  originalId: string;
  /** The payment's transaction id (from its fields; "" when unknown). */
  transactionId: string;
  errorCode: number;
  codeName: string | null;
  reason: string;
  deliveries: number;
  consumer: string;
  failedAt: string;
  /** The original fields (personal ones masked unless revealed); null when unreadable. */
  fields: Record<string, string> | null;
  masked: string[];
}

const CODE_NAMES = new Map<number, string>(
  Object.entries(ErrorCode).map(([name, code]) => [Number(code), name]),
);

/** An error code's name (`MAX_DELIVERIES_EXCEEDED`) when it is one of ours. */
export function errorCodeName(code: number): string | null {
  return CODE_NAMES.get(code) ?? null;
}

/** `letter` for the page: names its code, masks personal data unless `reveal`. */
export function deadLetterView(letter: DeadLetter, reveal: boolean): DeadLetterView {
  const { fields, masked } = letter.fields
    ? maskFields(letter.fields, reveal)
    : { fields: null, masked: [] };
  return {
    id: letter.id,
    originalId: letter.originalId,
    transactionId: letter.fields?.transaction_id ?? "",
    errorCode: letter.errorCode,
    codeName: errorCodeName(letter.errorCode),
    reason: maskText(letter.reason, letter.fields, reveal),
    deliveries: letter.deliveries,
    consumer: letter.consumer,
    failedAt: letter.failedAt,
    fields,
    masked,
  };
}

/** The newest dead letters for the page, and how much was looked at. */
export async function deadLetterList(
  redis: Redis,
  stream: string,
  options: { count: number; code?: number; scan: number; reveal: boolean },
): Promise<{ letters: DeadLetterView[]; scanned: number; complete: boolean; length: number }> {
  const [recent, length] = await Promise.all([
    recentDeadLetters(redis, stream, options),
    redis.xlen(dlqKey(stream)),
  ]);
  return {
    letters: recent.letters.map((l) => deadLetterView(l, options.reveal)),
    scanned: recent.scanned,
    complete: recent.complete,
    length,
  };
}

/** Most letters one request may replay or purge. */
export const MAX_LETTERS_PER_ACTION = 1000;

/** Replays or purges the letters `ids`; resolves to every outcome and their count by kind. */
export async function actOnDeadLetters(
  redis: Redis,
  stream: string,
  ids: readonly string[],
  action: "replay" | "purge",
): Promise<{ outcomes: LetterOutcome[]; counts: Partial<Record<LetterOutcome["kind"], number>> }> {
  const outcomes: LetterOutcome[] = [];
  for await (const some of moveDeadLetters(redis, stream, { ids }, action)) outcomes.push(...some);
  const counts: Partial<Record<LetterOutcome["kind"], number>> = {};
  for (const o of outcomes) counts[o.kind] = (counts[o.kind] ?? 0) + 1;
  return { outcomes, counts };
}
