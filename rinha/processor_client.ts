/**
 * HTTP calls to a payment processor, each outcome classified by what it proves about the
 * processor's records: paid, already paid, refused for sure, or unknown.
 * @module
 */
import { centsFromJsonNumber } from "./wire.ts";
import { errorMessage } from "@fastpix/infra";
import { formatCents, parseTimestamp } from "@fastpix/pix";

/** What a `POST /payments` proved. */
export type PayOutcome =
  /** 2xx: recorded now. */
  | { kind: "paid" }
  /** 422: the processor already has this correlation id. */
  | { kind: "duplicate" }
  /** 500/503 (failing) or 429 (overloaded) or another 4xx: nothing was recorded. */
  | { kind: "refused"; status: number }
  /** Timeout, broken connection, or a gateway error: it may or may not have been recorded. */
  | { kind: "unknown"; reason: string };

/** The payment a processor holds, from `GET /payments/{id}`. */
export interface ProcessorRecord {
  cents: number;
  requestedAtMs: number;
}

/** A processor's health report. */
export interface ProcessorHealth {
  failing: boolean;
  minResponseTime: number;
}

/** Statuses that say the processor did not record the payment. */
function refusedFor(status: number): boolean {
  return status === 500 || status === 503 || status === 429 ||
    (status >= 400 && status < 500 && status !== 422 && status !== 408);
}

/** The request never left (nothing can have been recorded). */
function neverSent(error: unknown): boolean {
  return /connection refused/i.test(errorMessage(error));
}

/** Sends one payment with the given requestedAt; never throws. */
export async function postPayment(
  baseUrl: string,
  payment: { correlationId: string; cents: number; requestedAtMs: number },
  timeoutMs: number,
): Promise<PayOutcome> {
  const body = `{"correlationId":"${payment.correlationId}","amount":${
    formatCents(payment.cents)
  },"requestedAt":"${new Date(payment.requestedAtMs).toISOString()}"}`;
  try {
    const response = await fetch(`${baseUrl}/payments`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    if (response.ok) return { kind: "paid" };
    if (response.status === 422) return { kind: "duplicate" };
    if (refusedFor(response.status)) return { kind: "refused", status: response.status };
    return { kind: "unknown", reason: `HTTP ${response.status}` };
  } catch (error) {
    if (neverSent(error)) return { kind: "refused", status: 0 };
    return { kind: "unknown", reason: errorMessage(error) };
  }
}

/** Looks a payment up; `undefined` when the processor does not have it or cannot say. */
export async function lookupPayment(
  baseUrl: string,
  correlationId: string,
  timeoutMs: number,
): Promise<ProcessorRecord | undefined> {
  try {
    const response = await fetch(`${baseUrl}/payments/${correlationId}`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) {
      await response.body?.cancel();
      return undefined;
    }
    const body = await response.json();
    const cents = centsFromJsonNumber(body?.amount);
    const requestedAtMs = typeof body?.requestedAt === "string"
      ? parseTimestamp(body.requestedAt)
      : undefined;
    if (cents === undefined || requestedAtMs === undefined) return undefined;
    return { cents, requestedAtMs };
  } catch {
    return undefined;
  }
}

/**
 * Calls `GET /payments/service-health`: the report (from a 200, or the 503 a failing processor
 * sends), `"rate-limited"` on 429, or `"unreachable"`.
 */
export async function fetchHealth(
  baseUrl: string,
  timeoutMs: number,
): Promise<ProcessorHealth | "rate-limited" | "unreachable"> {
  try {
    const response = await fetch(`${baseUrl}/payments/service-health`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status === 429) {
      await response.body?.cancel();
      return "rate-limited";
    }
    const body = await response.json().catch(() => undefined);
    if (typeof body?.failing !== "boolean") return "unreachable";
    const min = Number(body.minResponseTime);
    return { failing: body.failing, minResponseTime: Number.isFinite(min) ? min : 0 };
  } catch {
    return "unreachable";
  }
}
