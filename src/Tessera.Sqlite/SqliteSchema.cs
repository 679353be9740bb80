namespace Tessera.Sqlite;

/// <summary>
/// The store's tables and their migrations. Versions are recorded one row per applied migration in
/// <c>tessera_schema_migrations</c> (not <c>PRAGMA user_version</c>, which the application may use for its own tables
/// in the same file). Migrations run in order inside one <c>BEGIN IMMEDIATE</c> transaction that first re-reads the
/// version, so concurrent first uses from several stores or processes apply each migration exactly once.
/// </summary>
internal static class SqliteSchema
{
    public const string CreateMigrationsTable = """
        CREATE TABLE IF NOT EXISTS tessera_schema_migrations (
            version    INTEGER NOT NULL PRIMARY KEY,
            applied_at INTEGER NOT NULL
        );
        """;

    public const string ReadVersion = "SELECT coalesce(max(version), 0) FROM tessera_schema_migrations;";

    public const string RecordVersion = "INSERT INTO tessera_schema_migrations (version, applied_at) VALUES ($version, $applied_at);";

    /// <summary>The migrations, in order; entry i brings the schema to version i + 1. Never edit a shipped entry.</summary>
    public static readonly IReadOnlyList<string> Migrations =
    [
        // Version 1.
        // - pk is the rowid: data rows and the eviction / cleanup deletes refer to an 8-byte integer instead of repeating
        //   the 43-character id once per key.
        // - credential_hash is NULL once revoked: the dead credential's hash is gone, and UNIQUE ignores NULLs.
        // - Times are unix milliseconds (the records' precision). expires_at is the one deadline the store enforces,
        //   min(idle, absolute): a plain column that every write sets and a CHECK keeps honest, not a generated column,
        //   because SQLite does not read an index over a generated column as covering. Its index (with revoked_at)
        //   serves cleanup, and counting live sessions reads that index alone.
        // - tessera_counters holds the row count the size bound is checked against, kept by triggers, so a create does
        //   not COUNT(*) a million rows.
        """
        CREATE TABLE tessera_sessions (
            pk                  INTEGER NOT NULL PRIMARY KEY,
            id                  TEXT    NOT NULL UNIQUE,
            credential_hash     BLOB             UNIQUE,
            subject             TEXT,
            created_at          INTEGER NOT NULL,
            last_seen_at        INTEGER NOT NULL,
            idle_expires_at     INTEGER NOT NULL,
            absolute_expires_at INTEGER NOT NULL,
            expires_at          INTEGER NOT NULL CHECK (expires_at = min(idle_expires_at, absolute_expires_at)),
            revoked_at          INTEGER,
            user_agent          TEXT,
            ip_address          TEXT,
            label               TEXT
        );
        CREATE INDEX tessera_sessions_expires ON tessera_sessions (expires_at, revoked_at);
        CREATE INDEX tessera_sessions_last_seen ON tessera_sessions (last_seen_at);
        CREATE INDEX tessera_sessions_subject ON tessera_sessions (subject, created_at) WHERE subject IS NOT NULL;

        CREATE TABLE tessera_session_data (
            session_pk INTEGER NOT NULL REFERENCES tessera_sessions (pk) ON DELETE CASCADE,
            key        TEXT    NOT NULL,
            value      TEXT    NOT NULL,
            PRIMARY KEY (session_pk, key)
        ) WITHOUT ROWID;

        CREATE TABLE tessera_counters (
            name  TEXT    NOT NULL PRIMARY KEY,
            value INTEGER NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO tessera_counters (name, value) VALUES ('sessions', 0);

        CREATE TRIGGER tessera_sessions_counted_insert AFTER INSERT ON tessera_sessions
        BEGIN
            UPDATE tessera_counters SET value = value + 1 WHERE name = 'sessions';
        END;
        CREATE TRIGGER tessera_sessions_counted_delete AFTER DELETE ON tessera_sessions
        BEGIN
            UPDATE tessera_counters SET value = value - 1 WHERE name = 'sessions';
        END;
        """,

        // Version 2: token sessions (access and refresh JWTs beside the sessions they belong to).
        // - One row per token, keyed by its id (the JWT's jti); the JWT itself is never stored, it is re-minted from the
        //   row. session_pk cascades, so deleting a session (cleanup, eviction, delete) takes its tokens with it, and
        //   its index serves that cascade. Rotated refresh tokens stay as tombstones (revoked_at, successor_id) until
        //   a later rotation finds them expired (TesseraDefaults.ExpiredTokenRetention), so reuse stays detectable for as
        //   long as a token could be presented.
        // - kind is 'access' or 'refresh' as text, so the file reads plainly in the sqlite3 shell.
        // - tessera_sessions_revoked serves DeleteRevokedAsync; partial, because live sessions (most of them) are never
        //   looked up by revocation time, and "revoked_at <= ?" implies the index's condition.
        """
        CREATE TABLE tessera_tokens (
            id              TEXT    NOT NULL PRIMARY KEY,
            session_pk      INTEGER NOT NULL REFERENCES tessera_sessions (pk) ON DELETE CASCADE,
            kind            TEXT    NOT NULL CHECK (kind IN ('access', 'refresh')),
            paired_token_id TEXT    NOT NULL,
            created_at      INTEGER NOT NULL,
            expires_at      INTEGER NOT NULL,
            revoked_at      INTEGER,
            successor_id    TEXT
        ) WITHOUT ROWID;
        CREATE INDEX tessera_tokens_session ON tessera_tokens (session_pk);
        CREATE INDEX tessera_sessions_revoked ON tessera_sessions (revoked_at) WHERE revoked_at IS NOT NULL;
        """,

        // Version 3: anonymous sessions get a bound of their own (SqliteSessionStoreOptions.MaxAnonymousSessions).
        // - The 'anonymous' counter holds the rows without a subject, kept by triggers like 'sessions', so a create
        //   checks the anonymous bound without counting rows; signing in or out of a row moves it between the two.
        // - tessera_sessions_anonymous_last_seen orders only anonymous rows, so evicting the least recently seen
        //   anonymous sessions never walks past signed-in ones.
        """
        INSERT INTO tessera_counters (name, value) SELECT 'anonymous', count(*) FROM tessera_sessions WHERE subject IS NULL;
        CREATE INDEX tessera_sessions_anonymous_last_seen ON tessera_sessions (last_seen_at) WHERE subject IS NULL;

        CREATE TRIGGER tessera_sessions_anonymous_insert AFTER INSERT ON tessera_sessions WHEN NEW.subject IS NULL
        BEGIN
            UPDATE tessera_counters SET value = value + 1 WHERE name = 'anonymous';
        END;
        CREATE TRIGGER tessera_sessions_anonymous_delete AFTER DELETE ON tessera_sessions WHEN OLD.subject IS NULL
        BEGIN
            UPDATE tessera_counters SET value = value - 1 WHERE name = 'anonymous';
        END;
        CREATE TRIGGER tessera_sessions_anonymous_update AFTER UPDATE OF subject ON tessera_sessions
            WHEN (OLD.subject IS NULL) <> (NEW.subject IS NULL)
        BEGIN
            UPDATE tessera_counters SET value = value + (CASE WHEN NEW.subject IS NULL THEN 1 ELSE -1 END) WHERE name = 'anonymous';
        END;
        """,

        // Version 4: the generated key ring (UseDataProtectionKeys), one row whose version guards every save
        // (compare-and-swap), so two instances starting together cannot both add a key. The document is opaque here: its
        // key material is protected by the application's Data Protection.
        """
        CREATE TABLE tessera_key_ring (
            id       INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
            version  INTEGER NOT NULL,
            document TEXT    NOT NULL
        );
        """,
    ];

    /// <summary>The schema version this code writes and understands.</summary>
    public static int CurrentVersion => Migrations.Count;
}
