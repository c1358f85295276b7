/**
 * Types shared by the stream consumers and what plugs into them (batch hooks, retries), kept apart
 * from any implementation so that none of them imports another to reach a type.
 * @module
 */

/** An entry as XREADGROUP/XAUTOCLAIM return it (fields null: deleted from the stream). */
export type RawEntry = [id: string, fields: string[] | null];
