/**
 * Test payments in the original's wire format, with unique UUIDv7 transaction ids.
 * @module
 */
import { formatCents, type PaymentMessage, uuidv7 } from "@fastpix/pix";

/** The backends `RANDOMIZE_BACKEND_ID=true` spreads payments over, as in the original. */
export const RANDOM_BACKEND_IDS = ["1", "2", "3", "4"] as const;

/** Options of {@link makePayment}. */
export interface MakePaymentOptions {
  backendId: string;
  /** Fixed amount in cents; random from 1.00 to 100,000.00 BRL when omitted. */
  amountCents?: number;
  nowMs?: number;
}

/** A new payment from `backendId`. */
export function makePayment(options: MakePaymentOptions): PaymentMessage {
  const nowMs = options.nowMs ?? Date.now();
  const cents = options.amountCents ?? 100 + Math.floor(Math.random() * 9_999_901);
  return {
    transaction_id: uuidv7(nowMs),
    backend_id: options.backendId,
    amount: formatCents(cents),
    timestamp: new Date(nowMs).toISOString(),
  };
}
