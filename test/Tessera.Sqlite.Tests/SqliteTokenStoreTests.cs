using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Options;
using Tessera.Testing;
using Tessera.Tokens;

namespace Tessera.Sqlite.Tests;

/// <summary>What only the SQLite token store promises: the v1 to v2 upgrade, cascades, its indexes, cross-process rotation.</summary>
public sealed class SqliteTokenStoreTests : IDisposable
{
    // Schema version 1 exactly as Tessera.Sqlite 0.1 shipped it, frozen here so the upgrade is tested from a real v1 file.
    private const string VersionOneSchema = """
        CREATE TABLE tessera_schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL);
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
        CREATE TABLE tessera_counters (name TEXT NOT NULL PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO tessera_counters (name, value) VALUES ('sessions', 0);
        CREATE TRIGGER tessera_sessions_counted_insert AFTER INSERT ON tessera_sessions
        BEGIN
            UPDATE tessera_counters SET value = value + 1 WHERE name = 'sessions';
        END;
        CREATE TRIGGER tessera_sessions_counted_delete AFTER DELETE ON tessera_sessions
        BEGIN
            UPDATE tessera_counters SET value = value - 1 WHERE name = 'sessions';
        END;
        INSERT INTO tessera_schema_migrations (version, applied_at) VALUES (1, 0);
        """;

    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly TestDatabaseDirectory _directory = new();
    private readonly List<SqliteSessionStore> _stores = [];

    public void Dispose()
    {
        foreach (var store in _stores)
        {
            store.Dispose();
        }
        _directory.Dispose();
    }

    [Fact]
    public async Task AVersionOneDatabaseIsUpgradedInPlaceAndKeepsItsSessions()
    {
        var path = _directory.NewDatabasePath();
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
        var idle = now + (long)TimeSpan.FromMinutes(30).TotalMilliseconds;
        var absolute = now + (long)TimeSpan.FromHours(8).TotalMilliseconds;
        using (var connection = TestDatabaseDirectory.OpenRaw(path))
        using (var command = connection.CreateCommand())
        {
            command.CommandText = VersionOneSchema + $"""
                INSERT INTO tessera_sessions (pk, id, credential_hash, subject, created_at, last_seen_at, idle_expires_at, absolute_expires_at, expires_at, revoked_at)
                VALUES (1, 'old-live', x'{new string('a', 64)}', 'alice', {now}, {now}, {idle}, {absolute}, {idle}, NULL),
                       (2, 'old-revoked', NULL, 'bob', {now}, {now}, {idle}, {absolute}, {idle}, {now});
                INSERT INTO tessera_session_data (session_pk, key, value) VALUES (1, 'cart', '["apple"]'), (2, 'cart', '["pear"]');
                """;
            command.ExecuteNonQuery();
        }

        var store = NewStore(path);
        var old = await store.LoadAsync("old-live");

        Assert.NotNull(old);
        Assert.Equal("alice", old.Subject);
        Assert.Equal("[\"apple\"]", old.Data["cart"]);
        Assert.Equal(4, SqliteSessionStore.SchemaVersion);
        Assert.Equal(4L, TestDatabaseDirectory.Scalar(path, "SELECT count(*) FROM tessera_schema_migrations"));
        Assert.Equal(4L, TestDatabaseDirectory.Scalar(path, "SELECT max(version) FROM tessera_schema_migrations"));
        // Version 3 counts the rows without a subject as they were (both old rows have one).
        Assert.Equal(0L, TestDatabaseDirectory.Scalar(path, "SELECT value FROM tessera_counters WHERE name = 'anonymous'"));
        Assert.Equal(1L, TestDatabaseDirectory.Scalar(path, "SELECT count(*) FROM sqlite_master WHERE name = 'tessera_tokens'"));

        var manager = NewManager(store);
        var pair = await manager.Tokens.CreateAsync("carol");
        var refreshed = await manager.Tokens.RefreshAsync(pair.RefreshToken);
        Assert.True(refreshed.Succeeded, refreshed.Reason);
        Assert.Equal(1, await store.DeleteRevokedAsync(_clock.GetUtcNow(), 10));
        Assert.Equal(0L, TestDatabaseDirectory.Scalar(path, "SELECT count(*) FROM tessera_session_data WHERE session_pk = 2"));
        Assert.NotNull(await store.LoadAsync("old-live"));
        store.Dispose();

        var reopened = NewStore(path);
        Assert.True((await NewManager(reopened, manager.Options.Keys[0]).Tokens.GetAsync(refreshed.Value!.AccessToken)).Succeeded);
        Assert.Equal((long)SqliteSessionStore.SchemaVersion, TestDatabaseDirectory.Scalar(path, "SELECT count(*) FROM tessera_schema_migrations"));
    }

    [Fact]
    public async Task DeletingSessionsInAnyWayLeavesNoTokenOrDataRowsBehind()
    {
        var path = _directory.NewDatabasePath();
        var store = NewStore(path);
        var manager = NewManager(store);
        var deleted = await manager.Tokens.CreateAsync("a", new Dictionary<string, string> { ["k"] = "1" });
        var revoked = await manager.Tokens.CreateAsync("b", new Dictionary<string, string> { ["k"] = "2" });
        var kept = await manager.Tokens.CreateAsync("c", new Dictionary<string, string> { ["k"] = "3" });
        foreach (var pair in new[] { deleted, revoked, kept })
        {
            Assert.True((await manager.Tokens.RefreshAsync(pair.RefreshToken)).Succeeded);
        }
        Assert.Equal(12L, TestDatabaseDirectory.Scalar(path, "SELECT count(*) FROM tessera_tokens"));

        Assert.True(await store.DeleteAsync(deleted.SessionId));
        Assert.True(await manager.RevokeAsync(revoked.SessionId));
        Assert.Equal(1, await store.DeleteRevokedAsync(_clock.GetUtcNow(), 10));

        Assert.Equal(4L, TestDatabaseDirectory.Scalar(path, "SELECT count(*) FROM tessera_tokens"));
        Assert.Equal(1L, TestDatabaseDirectory.Scalar(path, "SELECT count(*) FROM tessera_session_data"));

        _clock.Advance(TimeSpan.FromDays(2)); // past the refresh lifetime: the last session idles out
        Assert.Equal(1, await store.DeleteExpiredAsync(10));
        Assert.Equal(0L, TestDatabaseDirectory.Scalar(path, "SELECT count(*) FROM tessera_tokens"));
        Assert.Equal(0L, TestDatabaseDirectory.Scalar(path, "SELECT count(*) FROM tessera_session_data"));
        Assert.Equal(0L, await store.CountRecordsAsync());
    }

    [Fact]
    public async Task TokenLookupsAndRevokedCleanupReadTheirIndexes()
    {
        var path = _directory.NewDatabasePath();
        await NewStore(path).InitializeAsync();

        var revokedPlan = Plan(path, "SELECT pk FROM tessera_sessions WHERE revoked_at <= 0 ORDER BY revoked_at LIMIT 10");
        var cascadePlan = Plan(path, "SELECT id FROM tessera_tokens WHERE session_pk = 1");

        Assert.Contains("tessera_sessions_revoked", revokedPlan, StringComparison.Ordinal);
        Assert.DoesNotContain("SCAN tessera_sessions", revokedPlan, StringComparison.Ordinal);
        Assert.Contains("tessera_tokens_session", cascadePlan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConcurrentRotationsThroughTwoStoresOnOneFileHaveExactlyOneWinner()
    {
        var path = _directory.NewDatabasePath();
        var first = NewStore(path);
        var second = NewStore(path); // its own write gate: only SQLite's lock and the conditional update stand between them
        var pair = await NewManager(first).Tokens.CreateAsync("alice");
        var refreshId = TokenId(pair.RefreshToken);
        var now = _clock.GetUtcNow();

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(async () =>
        {
            var (access, refresh) = NewPair(pair.SessionId, now);
            return await (i % 2 == 0 ? first : second).RotateAsync(refreshId, access, refresh, now);
        })));

        Assert.Equal(1, outcomes.Count(o => o == TokenRotationOutcome.Rotated));
        Assert.Equal(19, outcomes.Count(o => o == TokenRotationOutcome.AlreadyRevoked));
        Assert.Equal(4L, TestDatabaseDirectory.Scalar(path, "SELECT count(*) FROM tessera_tokens"));
    }

    private static string Plan(string path, string sql)
    {
        using var connection = TestDatabaseDirectory.OpenRaw(path);
        using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + sql;
        using var reader = command.ExecuteReader();
        var lines = new List<string>();
        while (reader.Read())
        {
            lines.Add(reader.GetString(3));
        }
        return string.Join('\n', lines);
    }

    private static string TokenId(string jwt)
    {
        using var payload = System.Text.Json.JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(jwt.Split('.')[1]));
        return payload.RootElement.GetProperty("jti").GetString()!;
    }

    private static (TokenRecord Access, TokenRecord Refresh) NewPair(string sessionId, DateTimeOffset now)
    {
        var issued = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds());
        var access = new TokenRecord
        {
            Id = Guid.NewGuid().ToString("D"),
            SessionId = sessionId,
            Kind = TokenKind.Access,
            PairedTokenId = Guid.NewGuid().ToString("D"),
            CreatedAt = issued,
            ExpiresAt = issued.AddMinutes(5),
        };
        return (access, access with { Id = access.PairedTokenId, Kind = TokenKind.Refresh, PairedTokenId = access.Id, ExpiresAt = issued.AddDays(1) });
    }

    private SessionManager NewManager(SqliteSessionStore store, string? key = null)
    {
        var options = new TesseraOptions();
        options.Keys.Add(key ?? SigningKeyRing.GenerateBase64Key());
        return new SessionManager(store, Options.Create(options), _clock);
    }

    private SqliteSessionStore NewStore(string path)
    {
        var store = new SqliteSessionStore(new SqliteSessionStoreOptions { ConnectionString = $"Data Source={path}" }, _clock);
        _stores.Add(store);
        return store;
    }
}
