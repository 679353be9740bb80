-- Tessera.PostgreSql migration 0001: Compas's session tables.
--
-- The tables of the Compas v0.0.172 release notes ("sessionStore" and "sessionStoreToken"), created only when they
-- are missing, so a database that Compas (or the release notes' migration) already made is left exactly as it is.
-- The one difference for new tables: ids default to gen_random_uuid() (core PostgreSQL 13+) instead of
-- uuid_generate_v4(), so no extension has to be installed. Both make version 4 UUIDs; Tessera always supplies ids.
--
-- Running this file by hand: it is plain SQL for the default names (schema "public", Compas naming). Every identifier
-- is double-quoted; EnsureSchemaAsync rewrites them for other schemas, table names and the snake_case naming style.
CREATE TABLE IF NOT EXISTS "public"."sessionStore"
(
  "id"        uuid PRIMARY KEY NOT NULL DEFAULT gen_random_uuid(),
  "checksum"  varchar          NOT NULL,
  "data"      jsonb            NOT NULL,
  "revokedAt" timestamptz      NULL,
  "createdAt" timestamptz      NOT NULL DEFAULT now(),
  "updatedAt" timestamptz      NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS "public"."sessionStoreToken"
(
  "id"           uuid PRIMARY KEY NOT NULL DEFAULT gen_random_uuid(),
  "session"      uuid             NOT NULL,
  "expiresAt"    timestamptz      NOT NULL,
  "refreshToken" uuid             NULL,
  "revokedAt"    timestamptz      NULL,
  "createdAt"    timestamptz      NOT NULL,
  CONSTRAINT "sessionStoreTokenSessionFk" FOREIGN KEY ("session") REFERENCES "public"."sessionStore" ("id") ON DELETE CASCADE,
  CONSTRAINT "sessionStoreTokenRefreshTokenFk" FOREIGN KEY ("refreshToken") REFERENCES "public"."sessionStoreToken" ("id") ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS "sessionStoreTokenSessionIdx" ON "public"."sessionStoreToken" ("session");
CREATE INDEX IF NOT EXISTS "sessionStoreTokenRefreshTokenIdx" ON "public"."sessionStoreToken" ("refreshToken");
