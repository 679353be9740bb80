-- The tables exactly as the Compas v0.0.172 release notes create them, plus the uuid extension they need.
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";

CREATE TABLE "sessionStore"
(
  "id"        uuid PRIMARY KEY NOT NULL DEFAULT uuid_generate_v4(),
  "checksum"  varchar          NOT NULL,
  "data"      jsonb            NOT NULL,
  "revokedAt" timestamptz      NULL,
  "createdAt" timestamptz      NOT NULL DEFAULT now(),
  "updatedAt" timestamptz      NOT NULL DEFAULT now()
);

CREATE TABLE "sessionStoreToken"
(
  "id"           uuid PRIMARY KEY NOT NULL DEFAULT uuid_generate_v4(),
  "session"      uuid             NOT NULL,
  "expiresAt"    timestamptz      NOT NULL,
  "refreshToken" uuid             NULL,
  "revokedAt"    timestamptz      NULL,
  "createdAt"    timestamptz      NOT NULL,
  CONSTRAINT "sessionStoreTokenSessionFk" FOREIGN KEY ("session") REFERENCES "sessionStore" ("id") ON DELETE CASCADE,
  CONSTRAINT "sessionStoreTokenRefreshTokenFk" FOREIGN KEY ("refreshToken") REFERENCES "sessionStoreToken" ("id") ON DELETE CASCADE
);

CREATE INDEX "sessionStoreTokenSessionIdx" ON "sessionStoreToken" ("session");
CREATE INDEX "sessionStoreTokenRefreshTokenIdx" ON "sessionStoreToken" ("refreshToken");

-- Not in the release notes: the job queue table @compas/store writes its leaked-session report to
-- (sessionStoreRefreshTokens on a reused refresh token). Only the columns it inserts.
CREATE TABLE "job"
(
  "id"             bigserial    PRIMARY KEY,
  "isComplete"     boolean      NULL DEFAULT false,
  "handlerTimeout" int          NULL,
  "priority"       int          NULL DEFAULT 0,
  "retryCount"     int          NULL DEFAULT 0,
  "name"           varchar      NOT NULL,
  "scheduledAt"    timestamptz  NULL DEFAULT now(),
  "data"           jsonb        NULL,
  "createdAt"      timestamptz  NULL DEFAULT now(),
  "updatedAt"      timestamptz  NULL DEFAULT now()
);
