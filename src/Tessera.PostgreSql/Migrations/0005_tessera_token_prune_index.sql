-- Tessera.PostgreSql migration 0005: pruning a session's spent tokens without reading all of them.
--
-- Every refresh deletes the session's revoked tokens that have expired (a rotated refresh token is kept, revoked, until
-- it expires, so that presenting it again is recognised as reuse). Through the "session" index that delete read every
-- token row the session still kept: a session refreshed every 15 minutes with 14-day refresh tokens keeps over a
-- thousand, and each refresh read them all. This index holds only revoked tokens, by session and expiry, so the delete
-- reads only the ones it removes.
--
-- Locks: built without CONCURRENTLY (writes to "sessionStoreToken" wait while it builds). On a large live table, build
-- it with CREATE INDEX CONCURRENTLY outside a transaction first; this statement then finds it and does nothing.
CREATE INDEX IF NOT EXISTS "sessionStoreTokenTesseraPruneIdx"
  ON "public"."sessionStoreToken" ("session", "expiresAt")
  WHERE "revokedAt" IS NOT NULL;
