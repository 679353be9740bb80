using Microsoft.Extensions.Time.Testing;
using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Tessera.Testing;
using Tessera.Tokens;

namespace Tessera.PostgreSql.Tests;

/// <summary>What only the PostgreSQL store promises: Compas's tables upgraded in place, safe migrations, naming, one
/// statement per read, batched cleanup, the user row in the same query, and DI.</summary>
public sealed class PostgreSqlSessionStoreTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);

    [Fact]
    public async Task TheReleaseNotesTablesUpgradeInPlaceAndKeepTheirRows()
    {
        var schema = database.NewSchema();
        await database.ExecuteAsync($"CREATE SCHEMA {schema}; SET search_path TO {schema}; CREATE EXTENSION IF NOT EXISTS \"uuid-ossp\" SCHEMA public; SET search_path TO {schema}, public;"
            + File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "compas-interop", "seed-migration.sql")).Replace("CREATE EXTENSION IF NOT EXISTS \"uuid-ossp\";", "", StringComparison.Ordinal)
            + """
              INSERT INTO "sessionStore" ("id", "checksum", "data") VALUES ('6f1c1d7e-0000-4000-8000-000000000001', 'abc', '{"userId":"alice"}');
              INSERT INTO "sessionStoreToken" ("id", "session", "expiresAt", "createdAt") VALUES ('6f1c1d7e-0000-4000-8000-0000000000aa', '6f1c1d7e-0000-4000-8000-000000000001', now() + interval '1 day', now());
              INSERT INTO "sessionStoreToken" ("id", "session", "expiresAt", "refreshToken", "createdAt") VALUES ('6f1c1d7e-0000-4000-8000-0000000000bb', '6f1c1d7e-0000-4000-8000-000000000001', now() + interval '5 minutes', '6f1c1d7e-0000-4000-8000-0000000000aa', now());
              """);
        _clock.SetUtcNow(DateTimeOffset.UtcNow);
        var store = new PostgreSqlSessionStore(database.DataSource, new PostgreSqlSessionStoreOptions { Schema = schema }, _clock);

        await store.EnsureSchemaAsync();

        var session = await store.LoadAsync("6f1c1d7e-0000-4000-8000-000000000001");
        Assert.NotNull(session);
        Assert.Equal("\"alice\"", session.Data["userId"]);
        Assert.Equal(DateTimeOffset.MaxValue, session.AbsoluteExpiresAt); // Compas sessions live by their tokens
        var access = await store.LoadTokenAsync("6f1c1d7e-0000-4000-8000-0000000000bb");
        Assert.NotNull(access);
        Assert.Equal(TokenKind.Access, access.Token.Kind);
        Assert.Equal("6f1c1d7e-0000-4000-8000-0000000000aa", access.Token.PairedTokenId);
        var refresh = await store.LoadTokenAsync("6f1c1d7e-0000-4000-8000-0000000000aa");
        Assert.Equal("6f1c1d7e-0000-4000-8000-0000000000bb", refresh!.Token.PairedTokenId);
        // Compas's own statements (its column lists only) still work on the upgraded tables.
        await database.ExecuteAsync($$"""INSERT INTO {{schema}}."sessionStore" ("id", "checksum", "revokedAt", "data", "createdAt", "updatedAt") VALUES (DEFAULT, 'x', NULL, '{}', DEFAULT, DEFAULT)""");
        Assert.Equal(2L, await database.ScalarAsync<long>($"""SELECT count(*) FROM {schema}."sessionStore" """));
        // Patching through Tessera keeps Compas's keys and marks the checksum so Compas's next update writes.
        Assert.True(await store.ApplyAsync(session.Id, new SessionPatch { Set = new Dictionary<string, string> { ["cart"] = "[]" } }));
        Assert.Equal("tessera", await database.ScalarAsync<string>($"""SELECT "checksum" FROM {schema}."sessionStore" WHERE "id" = '6f1c1d7e-0000-4000-8000-000000000001'"""));
        Assert.Equal(["cart", "userId"], (await store.LoadAsync(session.Id))!.Data.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task MigrationsAreIdempotentAndSafeFromFiveInstancesAtOnce()
    {
        var schema = database.NewSchema();
        var stores = Enumerable.Range(0, 5).Select(_ => new PostgreSqlSessionStore(database.DataSource, new PostgreSqlSessionStoreOptions { Schema = schema }, _clock)).ToList();

        await Task.WhenAll(stores.Select(s => s.EnsureSchemaAsync()));
        await stores[0].EnsureSchemaAsync();

        Assert.Equal((long)PostgreSqlSessionStore.SchemaVersion, await database.ScalarAsync<long>($"""SELECT count(*) FROM {schema}."sessionStoreTesseraMigrations" """));
        Assert.True(await stores[1].CreateAsync(NewRecord()));
    }

    [Fact]
    public async Task SnakeCaseNamingMakesSnakeCaseTablesThatWork()
    {
        var store = await database.CreateStoreAsync(_clock, o => o.NamingStyle = PostgreSqlNamingStyle.SnakeCase);
        var schema = store.SessionsTable.Split('.')[0].Trim('"');

        var columns = await database.ScalarAsync<string>($"SELECT string_agg(column_name, ',' ORDER BY column_name) FROM information_schema.columns WHERE table_schema = '{schema}' AND table_name = 'tessera_session'");
        Assert.Equal("absolute_expires_at,checksum,created_at,credential_hash,data,expires_at,id,idle_expires_at,ip_address,label,last_seen_at,revoked_at,subject,text_id,updated_at,user_agent", columns);
        Assert.Equal(1L, await database.ScalarAsync<long>($"SELECT count(*) FROM information_schema.tables WHERE table_schema = '{schema}' AND table_name = 'tessera_session_token'"));
        var record = NewRecord(subject: "alice");
        Assert.True(await store.CreateAsync(record));
        Assert.Equal("alice", (await store.LoadByCredentialAsync(record.CredentialHash))!.Subject);
        var manager = Manager(store);
        var pair = await manager.Tokens.CreateAsync("bob");
        Assert.True((await manager.Tokens.RefreshAsync(pair.RefreshToken)).Succeeded);
        Assert.Contains("CREATE TABLE IF NOT EXISTS \"" + schema + "\".\"tessera_session_token\"", store.RenderMigrations()[0].Sql, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("public; DROP TABLE x", null)]
    [InlineData("public", "sessions\"")]
    [InlineData("public", "1sessions")]
    [InlineData("public", "")]
    [InlineData("public", "a_table_name_that_is_far_too_long_for_the_store_xx")]
    [InlineData("", null)]
    public void InvalidSchemaOrTableNamesAreRefused(string schema, string? table)
    {
        var options = new PostgreSqlSessionStoreOptions { Schema = schema, SessionsTable = table };
        Assert.ThrowsAny<ArgumentException>(() => new PostgreSqlSessionStore(database.DataSource, options));
    }

    [Fact]
    public async Task ReadingASessionIsOneStatement()
    {
        var store = await database.CreateStoreAsync(_clock);
        var record = NewRecord(data: new Dictionary<string, string> { ["a"] = "1" });
        Assert.True(await store.CreateAsync(record));
        Assert.NotNull(await store.LoadByCredentialAsync(record.CredentialHash)); // warm: prepares on the pooled connection

        var statements = await CountStatementsAsync(async () => Assert.NotNull(await store.LoadByCredentialAsync(record.CredentialHash)));
        var tokenStatements = await CountStatementsAsync(async () => Assert.Null(await store.LoadTokenAsync(Guid.NewGuid().ToString())));

        Assert.Equal(1, statements);
        Assert.Equal(1, tokenStatements);
    }

    [Fact]
    public async Task ARefreshIsOneStatementAndAReusedTokenStillGetsItsAnswer()
    {
        var store = await database.CreateStoreAsync(_clock);
        var options = new TesseraOptions();
        options.Keys.Add(SigningKeyRing.GenerateBase64Key());
        var manager = new SessionManager(store, Microsoft.Extensions.Options.Options.Create(options), _clock);
        var first = await manager.Tokens.CreateAsync("alice");
        var warm = (await manager.Tokens.RefreshAsync(first.RefreshToken)).Value!; // prepares the statements on the pooled connection
        _clock.Advance(TimeSpan.FromMinutes(1));

        TokenPair? next = null;
        var statements = await CountStatementsAsync(async () => next = (await manager.Tokens.RefreshAsync(warm.RefreshToken)).Value);

        Assert.Equal(1, statements);
        Assert.NotNull(next);
        Assert.True((await manager.Tokens.GetAsync(next.AccessToken)).Succeeded);
        Assert.False((await manager.Tokens.GetAsync(warm.AccessToken)).Succeeded);
        // A token the one statement refuses is read and decided as before: the first pair, rotated two steps ago and
        // past the grace window, is a reuse that ends the session.
        _clock.Advance(options.Tokens.ReuseGraceWindow + TimeSpan.FromSeconds(1));
        Assert.Equal(TokenFailure.RefreshTokenReused, (await manager.Tokens.RefreshAsync(first.RefreshToken)).Failure);
        Assert.False((await manager.Tokens.GetAsync(next.AccessToken)).Succeeded);
    }

    [Fact]
    public async Task CleanupDeletesInBoundedBatches()
    {
        var store = await database.CreateStoreAsync(_clock);
        for (var i = 0; i < 25; i++)
        {
            Assert.True(await store.CreateAsync(NewRecord(idle: TimeSpan.FromMinutes(1))));
        }
        var live = NewRecord(idle: TimeSpan.FromHours(1));
        Assert.True(await store.CreateAsync(live));
        _clock.Advance(TimeSpan.FromMinutes(2));

        Assert.Equal(10, await store.DeleteExpiredAsync(10));
        Assert.Equal(10, await store.DeleteExpiredAsync(10));
        Assert.Equal(5, await store.DeleteExpiredAsync(10));
        Assert.Equal(0, await store.DeleteExpiredAsync(10));
        Assert.NotNull(await store.LoadAsync(live.Id));
    }

    [Fact]
    public async Task TheUserRowComesWithTheSessionInOneStatement()
    {
        var schema = database.NewSchema();
        await database.ExecuteAsync($"CREATE SCHEMA {schema}; CREATE TABLE {schema}.users (id text PRIMARY KEY, name text NOT NULL); INSERT INTO {schema}.users VALUES ('alice', 'Alice A.');");
        var store = new PostgreSqlSessionStore(database.DataSource, new PostgreSqlSessionStoreOptions
        {
            Schema = schema,
            UserQuery = new PostgreSqlUserQuery($"LEFT JOIN {schema}.users u ON u.id = s.\"tesseraSubject\"", "row_to_json(u)"),
        }, _clock);
        await store.EnsureSchemaAsync();
        var alice = NewRecord(subject: "alice");
        var anonymous = NewRecord();
        Assert.True(await store.CreateAsync(alice));
        Assert.True(await store.CreateAsync(anonymous));
        Assert.NotNull(await store.LoadWithUserAsync(alice.CredentialHash));

        SessionWithUser? loaded = null;
        var statements = await CountStatementsAsync(async () => loaded = await store.LoadWithUserAsync(alice.CredentialHash));

        Assert.Equal(1, statements);
        Assert.Equal(alice.Id, loaded!.Session.Id);
        Assert.Equal("Alice A.", loaded.User!.Value.GetProperty("name").GetString());
        var byId = await store.LoadWithUserAsync(anonymous.Id);
        Assert.NotNull(byId);
        Assert.Null(byId.User);
        Assert.Null(await store.LoadWithUserAsync(NewRecord().CredentialHash));
        var plain = await database.CreateStoreAsync(_clock);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await plain.LoadWithUserAsync(alice.CredentialHash));
    }

    [Fact]
    public async Task UuidIdsAreStoredAsTheyAreAndOtherIdsRoundTrip()
    {
        var store = await database.CreateStoreAsync(_clock);
        var uuid = NewRecord(id: Guid.NewGuid().ToString());
        var other = NewRecord(id: "not-a-uuid: Ünïcode");
        Assert.True(await store.CreateAsync(uuid));
        Assert.True(await store.CreateAsync(other));

        Assert.Equal(uuid.Id, (await store.LoadAsync(uuid.Id))!.Id);
        Assert.Equal(other.Id, (await store.LoadAsync(other.Id))!.Id);
        Assert.Null(await store.LoadAsync(uuid.Id.ToUpperInvariant())); // a different string is a different id
        Assert.Equal(1L, await database.ScalarAsync<long>($"""SELECT count(*) FROM {store.SessionsTable} WHERE "id" = '{uuid.Id}' AND "tesseraTextId" IS NULL"""));
    }

    [Fact]
    public async Task TheBuilderExtensionAppliesMigrationsAtStartupWhenAsked()
    {
        var schema = database.NewSchema();
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton<TimeProvider>(_clock);
        builder.Services.AddTesseraCore(o => o.Keys.Add(SigningKeyRing.GenerateBase64Key()))
            .UsePostgreSqlStore(database.ConnectionString, o =>
            {
                o.Schema = schema;
                o.ApplyMigrationsAtStartup = true;
            });
        using var host = builder.Build();

        await host.StartAsync();
        try
        {
            var store = host.Services.GetRequiredService<ISessionStore>();
            Assert.Same(host.Services.GetRequiredService<PostgreSqlSessionStore>(), store);
            Assert.True(await store.CreateAsync(NewRecord()));
        }
        finally
        {
            await host.StopAsync();
        }
        Assert.Throws<ArgumentException>(() => new ServiceCollection().AddTesseraCore().UsePostgreSqlStore(database.ConnectionString, o => o.TokensTable = "bad name"));
    }

    [Fact]
    public async Task SeveralInstancesShareSessionsThroughOneDatabase()
    {
        var schema = database.NewSchema();
        var key = SigningKeyRing.GenerateBase64Key();
        var stores = new List<PostgreSqlSessionStore>();
        var servers = new List<TesseraTestServer>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                // Each instance its own pool, as separate processes would have.
                var store = new PostgreSqlSessionStore(new PostgreSqlSessionStoreOptions { ConnectionString = database.ConnectionString, Schema = schema }, _clock);
                await store.EnsureSchemaAsync();
                stores.Add(store);
                servers.Add(await TesseraTestServer.StartAsync(store, _clock, [key]));
            }
            using var first = servers[0].CreateClient();
            await first.PostAsync("/set/seed/1");
            using var second = servers[1].CreateClient();
            second.Cookie = first.Cookie;
            Assert.Equal("1", await second.GetStringAsync("/read/seed"));

            // 100 concurrent requests across the instances, each setting its own key: all 100 survive.
            var clients = servers.Select(s => { var c = s.CreateClient(); c.Cookie = first.Cookie; return c; }).ToList();
            await Task.WhenAll(Enumerable.Range(0, 100).Select(i => clients[i % clients.Count].PostAsync($"/set/k{i}/{i}")));
            var keys = (await clients[2].GetStringAsync("/keys")).Split(',');
            Assert.Equal(101, keys.Length);

            // Destroyed on one instance, refused at once on the others.
            await clients[0].PostAsync("/destroy");
            Assert.Equal("(none)", await clients[1].GetStringAsync("/read/seed"));
            Assert.Equal("(none)", await clients[2].GetStringAsync("/read/k5"));
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
        finally
        {
            foreach (var server in servers)
            {
                await server.DisposeAsync();
            }
            foreach (var store in stores)
            {
                await store.DisposeAsync();
            }
        }
    }

    private SessionManager Manager(ISessionStore store)
    {
        var options = new TesseraOptions();
        options.Keys.Add(SigningKeyRing.GenerateBase64Key());
        return new SessionManager(store, Microsoft.Extensions.Options.Options.Create(options), _clock);
    }

    // Counts the statements Npgsql executes inside the action (its tracing, restricted to this call's activity tree).
    private static async Task<int> CountStatementsAsync(Func<Task> action)
    {
        using var root = new ActivitySource("Tessera.PostgreSql.Tests.Count");
        var count = 0;
        string? rootId = null;
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is "Npgsql" or "Tessera.PostgreSql.Tests.Count",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStarted = a =>
            {
                if (a.Source.Name == "Npgsql" && rootId is not null && a.ParentId == rootId)
                {
                    Interlocked.Increment(ref count);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        using (var activity = root.StartActivity("count"))
        {
            rootId = activity!.Id;
            await action();
        }
        return count;
    }

    private SessionRecord NewRecord(string? id = null, string? subject = null, IReadOnlyDictionary<string, string>? data = null, TimeSpan? idle = null)
    {
        var now = _clock.GetUtcNow();
        return new SessionRecord
        {
            Id = id ?? Guid.NewGuid().ToString(),
            CredentialHash = RandomNumberGenerator.GetBytes(32),
            Subject = subject,
            Data = data ?? new Dictionary<string, string>(),
            CreatedAt = now,
            LastSeenAt = now,
            IdleExpiresAt = now + (idle ?? TimeSpan.FromMinutes(30)),
            AbsoluteExpiresAt = now + TimeSpan.FromHours(8),
        };
    }
}
