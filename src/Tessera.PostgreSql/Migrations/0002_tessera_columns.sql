-- Tessera.PostgreSql migration 0002: what Tessera needs beyond Compas's tables.
--
-- Only additive changes: nullable or defaulted columns, indexes and one trigger. A Compas service keeps working against
-- the upgraded tables (it names its columns and never sees these), and existing rows stay. Compas-created sessions get
-- 'infinity' deadlines: they have no expiry of their own and live by their tokens.
--
-- Locks: the stored generated column "tesseraExpiresAt" rewrites "sessionStore" once (ACCESS EXCLUSIVE for the
-- duration), and the indexes are built without CONCURRENTLY (writes wait). On a large live Compas table, run this file
-- in a quiet moment, or split it and build the indexes with CREATE INDEX CONCURRENTLY outside a transaction first.
-- "tesseraTextId" keeps a session id that is not a canonical lower-case UUID (Tessera makes UUIDs; other callers may
-- not): such an id is stored under a name-based UUID derived from it, and read back from here.
ALTER TABLE "public"."sessionStore"
  ADD COLUMN IF NOT EXISTS "tesseraTextId"            text        NULL,
  ADD COLUMN IF NOT EXISTS "tesseraSubject"           text        NULL,
  ADD COLUMN IF NOT EXISTS "tesseraCredentialHash"    bytea       NULL,
  ADD COLUMN IF NOT EXISTS "tesseraLastSeenAt"        timestamptz NULL,
  ADD COLUMN IF NOT EXISTS "tesseraIdleExpiresAt"     timestamptz NOT NULL DEFAULT 'infinity',
  ADD COLUMN IF NOT EXISTS "tesseraAbsoluteExpiresAt" timestamptz NOT NULL DEFAULT 'infinity',
  ADD COLUMN IF NOT EXISTS "tesseraUserAgent"         text        NULL,
  ADD COLUMN IF NOT EXISTS "tesseraIpAddress"         text        NULL,
  ADD COLUMN IF NOT EXISTS "tesseraLabel"             text        NULL;

-- The one expiry the store enforces, kept by PostgreSQL itself so no writer (Compas included) can let it drift.
ALTER TABLE "public"."sessionStore"
  ADD COLUMN IF NOT EXISTS "tesseraExpiresAt" timestamptz
    GENERATED ALWAYS AS (LEAST("tesseraIdleExpiresAt", "tesseraAbsoluteExpiresAt")) STORED;

CREATE UNIQUE INDEX IF NOT EXISTS "sessionStoreTesseraCredentialHashIdx"
  ON "public"."sessionStore" ("tesseraCredentialHash") WHERE "tesseraCredentialHash" IS NOT NULL;
CREATE INDEX IF NOT EXISTS "sessionStoreTesseraSubjectIdx"
  ON "public"."sessionStore" ("tesseraSubject", "createdAt") WHERE "tesseraSubject" IS NOT NULL;
CREATE INDEX IF NOT EXISTS "sessionStoreTesseraExpiresAtIdx" ON "public"."sessionStore" ("tesseraExpiresAt");
CREATE INDEX IF NOT EXISTS "sessionStoreTesseraRevokedAtIdx"
  ON "public"."sessionStore" ("revokedAt") WHERE "revokedAt" IS NOT NULL;

-- "tesseraTextId": the original token id when it is not a canonical UUID (as for sessions). "tesseraSuccessor": the
-- refresh token that replaced a rotated one. "tesseraIssued": set on rows Tessera writes; Compas leaves it false.
ALTER TABLE "public"."sessionStoreToken"
  ADD COLUMN IF NOT EXISTS "tesseraTextId"    text    NULL,
  ADD COLUMN IF NOT EXISTS "tesseraSuccessor" uuid    NULL,
  ADD COLUMN IF NOT EXISTS "tesseraIssued"    boolean NOT NULL DEFAULT false;

-- When Compas refreshes a session (a new refresh token row Tessera did not write), the session's idle deadline follows
-- the new refresh token, capped by the absolute deadline, as a Tessera rotation would do. Without this a session that
-- Compas keeps refreshing would idle out for Tessera at its first refresh token's expiry.
CREATE OR REPLACE FUNCTION "public"."sessionStoreTokenTesseraFollowRefresh"() RETURNS trigger
  LANGUAGE plpgsql AS
$body$
BEGIN
  UPDATE "public"."sessionStore"
     SET "tesseraIdleExpiresAt" = LEAST(NEW."expiresAt", "tesseraAbsoluteExpiresAt")
   WHERE "id" = NEW."session"
     AND "tesseraIdleExpiresAt" < LEAST(NEW."expiresAt", "tesseraAbsoluteExpiresAt");
  RETURN NULL;
END
$body$;

DROP TRIGGER IF EXISTS "sessionStoreTokenTesseraFollowRefresh" ON "public"."sessionStoreToken";
CREATE TRIGGER "sessionStoreTokenTesseraFollowRefresh"
  AFTER INSERT ON "public"."sessionStoreToken"
  FOR EACH ROW WHEN (NEW."refreshToken" IS NULL AND NOT NEW."tesseraIssued")
  EXECUTE FUNCTION "public"."sessionStoreTokenTesseraFollowRefresh"();
