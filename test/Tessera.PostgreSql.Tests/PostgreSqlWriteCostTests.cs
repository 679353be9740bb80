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
        // The rotated tokens a long session keeps until they expire (revoked, so that their reuse is recognised).
        var kept = _clock.GetUtcNow().AddDays(1).ToString("O", CultureInfo.InvariantCulture);
        await database.ExecuteAsync($"""
            INSERT INTO "{schema}"."sessionStoreToken" ("id", "session", "expiresAt", "revokedAt", "createdAt")
            SELECT gen_random_uuid(), s."id", '{kept}', '{kept}', '{kept}'
            FROM "{schema}"."sessionStore" s, generate_series(1, 5000);
            ANALYZE "{schema}"."sessionStoreToken";
            """);
        _clock.Advance(TimeSpan.FromMinutes(1));
        pair = (await manager.Tokens.RefreshAsync(pair.RefreshToken)).Value!;
        Assert.True((await manager.Tokens.GetAsync(pair.AccessToken)).Succeeded);

        // The rotation's prune, as it runs (its predicate as in the store's statement), nothing being expired yet.
        var cutoff = _clock.GetUtcNow().AddMinutes(-1).ToString("O", CultureInfo.InvariantCulture);
        var plan = await PlanAsync($"""
            EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) DELETE FROM "{schema}"."sessionStoreToken" p USING "{schema}"."sessionStore" s
            WHERE p."session" = s."id" AND p."revokedAt" IS NOT NULL AND p."expiresAt" < '{cutoff}'
            """);

        // Through the session index it read all 5,000 kept tokens and dropped them by filter.
        Assert.Contains("sessionStoreTokenTesseraPruneIdx", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("Rows Removed by Filter", plan, StringComparison.Ordinal);
    }

    private async Task<string> PlanAsync(string explain)
    {
        await using var command = database.DataSource.CreateCommand(explain);
        await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        var lines = new List<string>();
        while (await reader.ReadAsync(TestContext.Current.CancellationToken))
        {
            lines.Add(reader.GetString(0));
        }
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
