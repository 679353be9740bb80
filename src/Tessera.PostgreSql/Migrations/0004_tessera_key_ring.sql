-- Tessera.PostgreSql migration 0004: the generated key ring (UseDataProtectionKeys).
--
-- One row: the key ring document and the version that guards every save (compare-and-swap), so two instances starting
-- together cannot both add a key. The document's key material is protected by the application's Data Protection; this
-- table never holds a usable key. Compas never reads it.
CREATE TABLE IF NOT EXISTS "public"."sessionStoreTesseraKeyRing"
(
  "id"       integer PRIMARY KEY NOT NULL CHECK ("id" = 1),
  "version"  bigint  NOT NULL,
  "document" text    NOT NULL
);
