/**
 * Versioned, idempotent migrations of the ledger schema. Each file `migrations/NNNN_name.sql` is
 * applied once, in order, and recorded in `schema_migrations` with a checksum; running again
 * applies only what is missing. Everything runs in one transaction under an advisory lock, so
 * concurrent runs wait for each other and a failing migration leaves nothing behind.
 * @module
 */
import { UserError } from "@fastpix/pix";
import type { Sql } from "./postgres.ts";

/** One migration file. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
  /** SHA-256 of the file, hex. */
  checksum: string;
}

const MIGRATIONS_DIR = new URL("./migrations/", import.meta.url);
/** Advisory lock key that serialises migrators ("fastpix" in ASCII, as an int). */
const LOCK_KEY = 0x66617374;

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The migration files, in version order. */
export async function loadMigrations(): Promise<Migration[]> {
  const all: Migration[] = [];
  for await (const entry of Deno.readDir(MIGRATIONS_DIR)) {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(entry.name);
    if (!m) continue;
    const sql = await Deno.readTextFile(new URL(entry.name, MIGRATIONS_DIR));
    all.push({
      version: Number(m[1]),
      name: `${m[1]}_${m[2]}`,
      sql,
      checksum: await sha256Hex(sql),
    });
  }
  return all.sort((a, b) => a.version - b.version);
}

/** The schema version a database is at (0: never migrated). */
export async function schemaVersion(sql: Sql): Promise<number> {
  const [{ exists }] = await sql`SELECT to_regclass('schema_migrations') IS NOT NULL AS exists`;
  if (!exists) return 0;
  const [{ version }] =
    await sql`SELECT coalesce(max(version), 0)::int AS version FROM schema_migrations`;
  return version;
}

/** Applies every missing migration; resolves to what was applied and the version reached. */
export async function migrate(sql: Sql): Promise<{ applied: string[]; version: number }> {
  const migrations = await loadMigrations();
  const applied: string[] = [];
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${LOCK_KEY})`;
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`;
    const rows = await tx`SELECT version, name, checksum FROM schema_migrations`;
    const done = new Map(rows.map((r) => [r.version as number, r]));
    for (const m of migrations) {
      const before = done.get(m.version);
      if (before) {
        if (before.checksum !== m.checksum) {
          throw new UserError(
            `Migration ${m.name} changed after it was applied: add a new migration instead of editing it`,
          );
        }
        continue;
      }
      await tx.unsafe(m.sql);
      await tx`INSERT INTO schema_migrations (version, name, checksum)
               VALUES (${m.version}, ${m.name}, ${m.checksum})`;
      applied.push(m.name);
    }
  });
  return { applied, version: migrations.at(-1)?.version ?? 0 };
}

/**
 * Throws a one-line {@link UserError} when the database is behind the latest migration, or when a
 * migration it applied differs from this build's file (edited after it was applied: the schema is
 * not what this build expects).
 */
export async function requireSchema(sql: Sql): Promise<void> {
  const migrations = await loadMigrations();
  const latest = migrations.at(-1)?.version ?? 0;
  const version = await schemaVersion(sql);
  if (version < latest) {
    throw new UserError(
      `The ledger schema is at version ${version}, this build needs ${latest}: run deno task migrate`,
    );
  }
  const applied = await sql`SELECT version, checksum FROM schema_migrations`;
  const checksums = new Map(applied.map((r) => [r.version as number, r.checksum as string]));
  const edited = migrations.find((m) =>
    checksums.has(m.version) && checksums.get(m.version) !== m.checksum
  );
  if (edited) {
    throw new UserError(
      `Migration ${edited.name} differs from the one applied to this database (checksum ` +
        "mismatch): restore the file as it was applied, and add a new migration for any change",
    );
  }
}
