/**
 * The wire format shared with the Python original: stream entry fields are flat string pairs.
 * @module
 */
import { fieldsToRecord } from "./validation.ts";

/** A payment as a producer sends it. Field names are the original's. */
export interface PaymentMessage {
  transaction_id: string;
  backend_id: string;
  /** Decimal string, at most 2 places. */
  amount: string;
  /** ISO 8601. */
  timestamp: string;
  end_to_end_id?: string;
  payer_key?: string;
  payee_key?: string;
  payer_name?: string;
  description?: string;
}

/** The four core field names, in the order producers send them. */
export const PAYMENT_FIELDS = ["transaction_id", "backend_id", "amount", "timestamp"] as const;

/** Outcome of a payment, as its backend sees it. */
export type ConfirmationStatus = "confirmed" | "rejected" | "duplicate";

/** A confirmation on `backend_bacen_response_<backend_id>`. */
export interface Confirmation {
  transaction_id: string;
  status: ConfirmationStatus;
  processed_amount: string;
  backend_id: string;
  timestamp: string;
  error_code?: string;
  error_message?: string;
  /**
   * The id of the payment's entry in the payment stream (stream design; absent from the list
   * designs' confirmations and from those written before it existed).
   */
  entry_id?: string;
}

/** Flattens a message into `[field, value, ...]` for XADD, in a stable order. */
export function toStreamFields(message: PaymentMessage): string[] {
  const flat: string[] = [];
  for (const [name, value] of Object.entries(message)) {
    if (value !== undefined) flat.push(name, value);
  }
  return flat;
}

/** Reads a confirmation entry's flat fields. */
export function parseConfirmation(flat: readonly string[]): Confirmation {
  const r = fieldsToRecord(flat);
  return {
    transaction_id: r.transaction_id ?? "",
    status: r.status as ConfirmationStatus,
    processed_amount: r.processed_amount ?? "",
    backend_id: r.backend_id ?? "",
    timestamp: r.timestamp ?? "",
    ...(r.error_code !== undefined ? { error_code: r.error_code } : {}),
    ...(r.error_message !== undefined ? { error_message: r.error_message } : {}),
    ...(r.entry_id !== undefined ? { entry_id: r.entry_id } : {}),
  };
}
