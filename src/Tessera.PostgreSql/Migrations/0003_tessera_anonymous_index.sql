-- Tessera.PostgreSql migration 0003: counting live anonymous sessions cheaply (PostgreSqlSessionStoreOptions.MaxAnonymousSessions).
--
-- The store samples how many live anonymous sessions there are every few seconds, stopping at the bound, so a sample
-- reads at most the bound's worth of this index's entries, never the whole table. Only Tessera rows that can still be
-- used are in it: Compas's own rows have no credential hash, and revoking a session clears its hash.
--
-- Locks: built without CONCURRENTLY (writes to "sessionStore" wait while it builds). On a large live table, build it
-- with CREATE INDEX CONCURRENTLY outside a transaction first; this statement then finds it and does nothing.
CREATE INDEX IF NOT EXISTS "sessionStoreTesseraAnonymousIdx"
  ON "public"."sessionStore" ("tesseraExpiresAt")
  WHERE "tesseraSubject" IS NULL AND "tesseraCredentialHash" IS NOT NULL AND "revokedAt" IS NULL;
