using System.Globalization;
using Microsoft.Extensions.Time.Testing;
using Tessera.Testing;
using Tessera.Tokens;
using Tessera.TestServices;

namespace Tessera.PostgreSql.Tests;

/// <summary>
/// What a session write costs PostgreSQL. Between touches Tessera sends only the data (the deadlines move at most once
/// per touch interval), and no index covers the data, so PostgreSQL keeps each update on its page (a HOT update) and
/// adds no index entry; moving the idle deadline changes the expiry index, so each such update adds an entry to every
/// index. Counted on the index pages with <c>pageinspect</c>, which sees the effect at once (the statistics views lag).
/// </summary>
public sealed class PostgreSqlWriteCostTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);

    [Fact]
    public async Task DataWritesBetweenTouchesAddNoIndexEntryAndDeadlineWritesDo()
    {
        await database.ExecuteAsync("CREATE EXTENSION IF NOT EXISTS pageinspect");
        var schema = database.NewSchema();
        await using var store = new PostgreSqlSessionStore(new PostgreSqlSessionStoreOptions { ConnectionString = database.ConnectionString, Schema = schema }, _clock);
        await store.EnsureSchemaAsync();
        var record = StoreConfigurationHost.NewRecord(_clock);
        Assert.True(await store.CreateAsync(record));

        for (var i = 0; i < 20; i++)
        {
            Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { Set = Counter(i) }));
        }

        Assert.Equal(1, await IndexEntriesAsync(schema, "sessionStoreTesseraExpiresAtIdx"));
        Assert.Equal(1, await IndexEntriesAsync(schema, "sessionStore_pkey"));

        // The other side: writes that move the idle deadline are updates no page can absorb.
        for (var i = 1; i <= 5; i++)
        {
            var now = _clock.GetUtcNow().AddMinutes(i);
            Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { Set = Counter(i), LastSeenAt = now, IdleExpiresAt = now.AddMinutes(30) }));
        }

        Assert.Equal(6, await IndexEntriesAsync(schema, "sessionStoreTesseraExpiresAtIdx"));
        Assert.Equal(6, await IndexEntriesAsync(schema, "sessionStore_pkey"));
    }

    /// <summary>
    /// A rotation prunes its session's expired rotated tokens through the prune index, seeking that session's entries:
    /// neither the thousands of rotated tokens the session keeps until they expire nor the other sessions' are read, in
    /// the generic plan a prepared statement settles on (bench/wrk-one.sh --store postgres /api/refresh showed the
    /// server's CPU per refresh grow with the table until the prune named the session by its parameter).
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ARotationPrunesWithoutReadingEveryTokenTheSessionKeeps()
    {
        var schema = database.NewSchema();
        await using var store = new PostgreSqlSessionStore(new PostgreSqlSessionStoreOptions { ConnectionString = database.ConnectionString, Schema = schema }, _clock);
        await store.EnsureSchemaAsync();
        var options = new TesseraOptions();
        options.Keys.Add(SigningKeyRing.GenerateBase64Key());
        var manager = new SessionManager(store, Microsoft.Extensions.Options.Options.Create(options), _clock);
        var pair = (await manager.Tokens.RefreshAsync((await manager.Tokens.CreateAsync("alice")).RefreshToken)).Value!;
        for (var i = 0; i < 19; i++)
        {
            await manager.Tokens.CreateAsync($"user{i}");
        }
        // The rotated tokens long sessions keep until they expire (revoked, so that their reuse is recognised).
        var kept = _clock.GetUtcNow().AddDays(1).ToString("O", CultureInfo.InvariantCulture);
        await database.ExecuteAsync($"""
            INSERT INTO "{schema}"."sessionStoreToken" ("id", "session", "expiresAt", "revokedAt", "createdAt")
            SELECT gen_random_uuid(), s."id", '{kept}', '{kept}', '{kept}'
            FROM "{schema}"."sessionStore" s, generate_series(1, 1000);
            ANALYZE "{schema}"."sessionStoreToken";
            """);
        _clock.Advance(TimeSpan.FromMinutes(1));
        pair = (await manager.Tokens.RefreshAsync(pair.RefreshToken)).Value!;
        Assert.True((await manager.Tokens.GetAsync(pair.AccessToken)).Succeeded);

        // The store's own rotation statement, as a prepared statement runs it from its sixth execution on: one generic
        // plan for every session (forced here), executed on a pair whose rotation then rolls back.
        var options2 = new PostgreSqlSessionStoreOptions { ConnectionString = database.ConnectionString, Schema = schema };
        var rotate = new PostgreSqlStatements(new PostgreSqlSchema(options2), null).TryRotate;
        var now = _clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);
        var later = _clock.GetUtcNow().AddDays(14).ToString("O", CultureInfo.InvariantCulture);
        var cutoff = _clock.GetUtcNow().AddMinutes(-1).ToString("O", CultureInfo.InvariantCulture);
        var (session, token) = (await PlanAsync($"""
            SELECT t."session" || ' ' || t."id" FROM "{schema}"."sessionStoreToken" t JOIN "{schema}"."sessionStore" s ON s."id" = t."session"
            WHERE s."tesseraSubject" = 'alice' AND t."refreshToken" IS NULL AND t."revokedAt" IS NULL
            """)).Split(' ') is [var s, var t] ? (s, t) : throw new InvalidOperationException("alice has no live refresh token");
        var plan = await PlanAsync($"""
            SET plan_cache_mode = force_generic_plan;
            PREPARE rotate AS {rotate};
            EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE rotate('{session}', '{now}', '{Guid.NewGuid()}', 'r', '{later}', '{now}',
              '{Guid.NewGuid()}', 'a', '{later}', '{now}', '{token}', '{cutoff}', '{now}');
            """);

        // The prune seeks the session's expired rotated tokens in its index. Joined on the session only through the
        // rotation's CTE, the generic plan scanned that index on "expiresAt" alone: every session's kept tokens.
        var prune = plan[plan.IndexOf("CTE pruned", StringComparison.Ordinal)..plan.IndexOf("CTE fresh", StringComparison.Ordinal)];
        Assert.Contains("sessionStoreTokenTesseraPruneIdx", prune, StringComparison.Ordinal);
        Assert.Contains("Index Cond: ((session = $1) AND (\"expiresAt\" < $12))", prune, StringComparison.Ordinal);
        Assert.DoesNotContain("Rows Removed by Filter", prune, StringComparison.Ordinal);
        Assert.Contains("rows=1 loops=1", plan[..plan.IndexOf("CTE old", StringComparison.Ordinal)], StringComparison.Ordinal);
    }

    /// <summary>
    /// The cleanup's batch, as the store's connections plan it (one generic plan, blind to the cut-off): it walks the
    /// expiry index from the oldest, so a table of live sessions with a few expired ones is not read whole per batch.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task TheCleanupsGenericPlanWalksTheExpiryIndex()
    {
        var schema = database.NewSchema();
        var options = new PostgreSqlSessionStoreOptions { ConnectionString = database.ConnectionString, Schema = schema };
        await using var store = new PostgreSqlSessionStore(options, _clock);
        await store.EnsureSchemaAsync();
        var live = _clock.GetUtcNow().AddDays(1).ToString("O", CultureInfo.InvariantCulture);
        var gone = _clock.GetUtcNow().AddDays(-1).ToString("O", CultureInfo.InvariantCulture);
        await database.ExecuteAsync($"""
            INSERT INTO "{schema}"."sessionStore" ("id", "checksum", "data", "createdAt", "updatedAt", "tesseraIdleExpiresAt", "tesseraAbsoluteExpiresAt", "revokedAt")
            SELECT gen_random_uuid(), 'tessera', '{"{}"}', '{gone}', '{gone}',
                   CASE WHEN i <= 5 THEN '{gone}'::timestamptz ELSE '{live}'::timestamptz END, '{live}',
                   CASE WHEN i <= 5 THEN '{gone}'::timestamptz END
            FROM generate_series(1, 20000) i;
            ANALYZE "{schema}"."sessionStore";
            """);
        var statements = new PostgreSqlStatements(new PostgreSqlSchema(options), null);
        var now = _clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);

        foreach (var (statement, index) in new[] { (statements.DeleteExpired, "sessionStoreTesseraExpiresAtIdx"), (statements.DeleteRevoked, "sessionStoreTesseraRevokedAtIdx") })
        {
            var plan = await PlanAsync($"""
                SET plan_cache_mode = force_generic_plan;
                PREPARE batch AS {statement};
                EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE batch('{now}', 100);
                """);

            Assert.Contains(index, plan, StringComparison.Ordinal);
            Assert.DoesNotContain("Seq Scan", plan, StringComparison.Ordinal);
            Assert.Contains("rows=5 loops=1", plan, StringComparison.Ordinal);
        }
    }

    // The plan's lines; a script's statements run in one transaction that rolls back (EXPLAIN ANALYZE writes).
    private async Task<string> PlanAsync(string explain)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync(TestContext.Current.CancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(TestContext.Current.CancellationToken);
        await using var command = new Npgsql.NpgsqlCommand(explain, connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        var lines = new List<string>();
        do
        {
            while (await reader.ReadAsync(TestContext.Current.CancellationToken))
            {
                lines.Add(reader.GetString(0));
            }
        }
        while (await reader.NextResultAsync(TestContext.Current.CancellationToken));
        return string.Join('\n', lines);
    }

    private static Dictionary<string, string> Counter(int value) =>
        new(StringComparer.Ordinal) { ["counter"] = value.ToString(CultureInfo.InvariantCulture) };

    // Entries on the index's first leaf page: the whole index while it is this small (page 0 is the metapage). Dead
    // entries stay until a vacuum, so every non-HOT update of the one row adds one.
    private async Task<long> IndexEntriesAsync(string schema, string index)
    {
        await using var command = database.DataSource.CreateCommand("SELECT count(*) FROM bt_page_items(get_raw_page($1, 1))");
        command.Parameters.AddWithValue($"\"{schema}\".\"{index}\"");
        return (long)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
    }
}
