using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using System.Security.Cryptography;
using Npgsql;
using Tessera.Testing;

namespace Tessera.PostgreSql.Tests;

/// <summary>
/// What the store does when a pooled connection fails under a statement: a server restart under running app instances,
/// a connection cut mid-statement, a backend terminated by the server. See docs/postgresql.md ("Restarts and broken
/// connections").
/// </summary>
public sealed class PostgreSqlConnectionFailureTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private const int ClientsPerInstance = 6;

    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);

    [Fact]
    public async Task EveryRequestMadeAfterAPostgreSqlRestartSucceedsOnEveryInstance()
    {
        // A server of this test's own: restarting the shared one would fail the tests running beside this one.
        await using var cluster = await PostgresCluster.StartAsync();
        var key = SigningKeyRing.GenerateBase64Key();
        var instances = new List<(string Name, NpgsqlDataSource DataSource, PostgreSqlSessionStore Store, TesseraTestServer Server)>();
        // What the stores log (each statement run again says why), for the failure message.
        var storeLogs = new FakeLogCollector();
        try
        {
            foreach (var name in new[] { "instance-a", "instance-b" })
            {
                // Each instance has its own pool, as two processes would.
                var connectionString = new NpgsqlConnectionStringBuilder(cluster.ConnectionString) { ApplicationName = name, MaxPoolSize = 10 }.ToString();
                var dataSource = NpgsqlDataSource.Create(connectionString);
                var store = new PostgreSqlSessionStore(dataSource, new PostgreSqlSessionStoreOptions(), _clock, new FakeLogger(storeLogs, name));
                await store.EnsureSchemaAsync();
                instances.Add((name, dataSource, store, await TesseraTestServer.StartAsync(store, _clock, [key])));
            }

            // Signed-in users with a cart on both instances, made in parallel so that each pool holds several connections.
            var users = instances.SelectMany(i => Enumerable.Range(0, ClientsPerInstance).Select(n => (Instance: i, User: $"{i.Name}-user{n}", Client: i.Server.CreateClient()))).ToList();
            await Task.WhenAll(users.Select(async u =>
            {
                await u.Client.PostAsync($"/signin/{u.User}");
                await u.Client.PostAsync("/set/cart/apple");
                Assert.Equal("apple", await u.Client.GetStringAsync("/read/cart"));
            }));
            // Parallel requests need not overlap on a loaded machine, so each pool is also made to hold four connections
            // at once: every one of them is idle in the pool, and broken by the restart, when the requests below run.
            foreach (var (_, dataSource, _, _) in instances)
            {
                var held = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => dataSource.OpenConnectionAsync().AsTask()));
                foreach (var connection in held)
                {
                    await connection.DisposeAsync();
                }
            }
            foreach (var (name, _, _, _) in instances)
            {
                Assert.True(await PooledConnectionsAsync(cluster, name) >= 3, $"{name} should hold several idle pooled connections before the restart.");
            }

            await cluster.RestartAsync();

            // Every request now must succeed: reads (a failed load would read as anonymous, so the bodies are checked),
            // writes, a new sign-in and a sign-out, on both instances, many at once.
            var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
            async Task Expect(CookieClient client, HttpMethod method, string path, string expected)
            {
                using var response = await client.SendAsync(method, path, method == HttpMethod.Post ? new ByteArrayContent([]) : null);
                var body = await response.Content.ReadAsStringAsync();
                if (!response.IsSuccessStatusCode || body != expected)
                {
                    failures.Enqueue($"{method} {path}: {(int)response.StatusCode} '{body}' (expected '{expected}')");
                }
            }
            await Task.WhenAll(users.Select(async (u, n) =>
            {
                await Expect(u.Client, HttpMethod.Get, "/whoami", u.User);
                await Expect(u.Client, HttpMethod.Post, "/set/after/restart", "ok");
                await Expect(u.Client, HttpMethod.Get, "/read/cart", "apple");
                using var newcomer = u.Instance.Server.CreateClient();
                await Expect(newcomer, HttpMethod.Post, $"/signin/new{n}", "ok");
                await Expect(newcomer, HttpMethod.Get, "/whoami", $"new{n}");
                if (n % 2 == 0)
                {
                    await Expect(u.Client, HttpMethod.Post, "/destroy", "ok");
                    await Expect(u.Client, HttpMethod.Get, "/whoami", "(anonymous)");
                }
                else
                {
                    await Expect(u.Client, HttpMethod.Get, "/read/after", "restart");
                }
            }));
            // On failure, what the servers logged at Warning or above says which store error was not run again.
            Assert.True(failures.IsEmpty, string.Join('\n', failures) + "\n" + string.Join('\n', instances
                .SelectMany(i => i.Server.Logs.GetSnapshot())
                .Where(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning)
                .Concat(storeLogs.GetSnapshot())
                .Select(e => $"{e.Category} {e.Level} {e.Id.Id} {e.Message} {e.Exception?.ToString().Split('\n')[0]}")));
            foreach (var user in users)
            {
                user.Client.Dispose();
            }
        }
        finally
        {
            foreach (var (_, dataSource, store, server) in instances)
            {
                await server.DisposeAsync();
                await store.DisposeAsync();
                await dataSource.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task ACreateTerminatedByTheServerBeforeItTookEffectRunsAgainOnAFreshConnection()
    {
        var (schema, application) = (database.NewSchema(), NewApplicationName());
        await using var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(database.ConnectionString) { ApplicationName = application }.ToString());
        await using var store = new PostgreSqlSessionStore(dataSource, new PostgreSqlSessionStoreOptions { Schema = schema }, _clock);
        await store.EnsureSchemaAsync();
        // The pooled connection has the statement prepared, so the next create is sent at once and waits in the server.
        Assert.True(await store.CreateAsync(NewRecord()));
        var record = NewRecord();

        Task<bool> creating;
        await using (var blocker = await LockSessionsTableAsync(schema))
        {
            creating = store.CreateAsync(record).AsTask();
            var backend = await BlockedBackendAsync(application);
            // The server ends that backend (57P01, as a fast shutdown would): its statement is rolled back.
            await database.ExecuteAsync($"SELECT pg_terminate_backend({backend})");
            await blocker.CommitAsync();
        }

        Assert.True(await creating);
        Assert.Equal(record.Id, (await store.LoadByCredentialAsync(record.CredentialHash))?.Id);
    }

    [Fact]
    public async Task APatchWhoseConnectionBrokeMidStatementRunsAgainOnAFreshConnection()
    {
        var (schema, application) = (database.NewSchema(), NewApplicationName());
        await using var proxy = ProxyToDatabase();
        await using var store = await ProxiedStoreAsync(proxy, schema, application);
        var record = NewRecord();
        Assert.True(await store.CreateAsync(record));
        Assert.True(await store.ApplyAsync(record.Id, Set("warm", "1")));
        var connectionsBefore = proxy.Accepted;

        Task<bool> applying;
        await using (var blocker = await LockSessionsTableAsync(schema))
        {
            applying = store.ApplyAsync(record.Id, Set("cart", "[\"apple\"]")).AsTask();
            await BlockedBackendAsync(application);
            // The statement reached the server, which may or may not commit it: only an idempotent one may run again.
            proxy.SeverAll();
            await blocker.CommitAsync();
        }

        Assert.True(await applying);
        Assert.Equal(connectionsBefore + 1, proxy.Accepted);
        Assert.Equal("[\"apple\"]", (await store.LoadAsync(record.Id))!.Data["cart"]);
    }

    [Fact]
    public async Task ACreateWhoseConnectionBrokeMidStatementFailsAndIsNotRunAgain()
    {
        var (schema, application) = (database.NewSchema(), NewApplicationName());
        await using var proxy = ProxyToDatabase();
        await using var store = await ProxiedStoreAsync(proxy, schema, application);
        Assert.True(await store.CreateAsync(NewRecord()));
        var connectionsBefore = proxy.Accepted;

        Task<bool> creating;
        await using (var blocker = await LockSessionsTableAsync(schema))
        {
            creating = store.CreateAsync(NewRecord()).AsTask();
            await BlockedBackendAsync(application);
            proxy.SeverAll();
            // Released at once: a second run, had there been one, would now complete instead of failing.
            await blocker.CommitAsync();
        }

        // The first run may have committed: a second would report an id collision for the caller's own session.
        var failure = await Assert.ThrowsAnyAsync<NpgsqlException>(() => creating);
        Assert.IsNotType<PostgresException>(failure);
        Assert.Equal(connectionsBefore, proxy.Accepted);
    }

    [Theory]
    [InlineData(PostgresErrorCodes.AdminShutdown, true)]
    [InlineData(PostgresErrorCodes.CannotConnectNow, true)]
    [InlineData(PostgresErrorCodes.CrashShutdown, false)] // PostgreSQL sends it only as a warning, then drops the connection
    [InlineData(PostgresErrorCodes.UniqueViolation, false)]
    [InlineData(PostgresErrorCodes.QueryCanceled, false)]
    public void OnlyTheServersShutdownErrorsProveAStatementHadNoEffect(string sqlState, bool runsAgain)
    {
        var failure = new PostgresException("test", "FATAL", "FATAL", sqlState);
        Assert.Equal(runsAgain, PostgreSqlSessionStore.MayRunAgain(failure, sent: true, idempotent: false));
        Assert.Equal(runsAgain, PostgreSqlSessionStore.MayRunAgain(failure, sent: true, idempotent: true));
    }

    [Theory]
    [InlineData("Host=h;Maximum Pool Size=10", 11)]
    [InlineData("Host=h", 101)] // Npgsql's default pool of 100
    [InlineData("Host=h;Maximum Pool Size=1", 3)] // never fewer than other failures get
    [InlineData("Host=h;Pooling=false", 3)]
    public void AStatementMeetingShutdownErrorsRunsOnceForEachConnectionThePoolCanHold(string connectionString, int runs)
    {
        Assert.Equal(runs, PostgreSqlSessionStore.ShutdownRuns(connectionString));
    }

    [Fact]
    public void ABrokenConnectionRunsAStatementAgainOnlyWhenItWasNotSentOrIsIdempotent()
    {
        var broken = new NpgsqlException("Exception while reading from stream", new EndOfStreamException());
        var timedOut = new NpgsqlException("Exception while reading from stream", new TimeoutException());
        Assert.True(PostgreSqlSessionStore.MayRunAgain(broken, sent: false, idempotent: false));
        Assert.True(PostgreSqlSessionStore.MayRunAgain(broken, sent: true, idempotent: true));
        Assert.False(PostgreSqlSessionStore.MayRunAgain(broken, sent: true, idempotent: false));
        Assert.False(PostgreSqlSessionStore.MayRunAgain(timedOut, sent: false, idempotent: true));
    }

    private static string NewApplicationName() => $"tessera-test-{Guid.NewGuid():N}"[..30];

    private static SessionPatch Set(string key, string json) => new() { Set = new Dictionary<string, string> { [key] = json } };

    private static async Task<long> PooledConnectionsAsync(PostgresCluster cluster, string application)
    {
        await using var connection = new NpgsqlConnection(cluster.ConnectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", connection) { Parameters = { new() { Value = application } } };
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private SeverableProxy ProxyToDatabase()
    {
        var target = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        return new SeverableProxy(target.Host!, target.Port);
    }

    private async Task<PostgreSqlSessionStore> ProxiedStoreAsync(SeverableProxy proxy, string schema, string application)
    {
        await (await database.CreateStoreAsync(_clock, o => o.Schema = schema)).DisposeAsync(); // migrated directly, not through the proxy
        var connectionString = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Host = "127.0.0.1", Port = proxy.Port, ApplicationName = application }.ToString();
        return new PostgreSqlSessionStore(new PostgreSqlSessionStoreOptions { ConnectionString = connectionString, Schema = schema }, _clock);
    }

    // A transaction holding the sessions table so that writes wait in the server (reads still pass).
    private async Task<NpgsqlTransaction> LockSessionsTableAsync(string schema)
    {
        var connection = await database.DataSource.OpenConnectionAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand($"LOCK TABLE \"{schema}\".\"sessionStore\" IN EXCLUSIVE MODE", connection, transaction);
        await command.ExecuteNonQueryAsync();
        return transaction;
    }

    // The process id of the application's backend once it waits for a lock (polls the server, at most 30 seconds).
    private async Task<int> BlockedBackendAsync(string application)
    {
        for (var attempt = 0; attempt < 1500; attempt++)
        {
            await using var command = database.DataSource.CreateCommand("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'");
            command.Parameters.Add(new NpgsqlParameter { Value = application });
            if (await command.ExecuteScalarAsync() is int pid)
            {
                return pid;
            }
            await Task.Delay(20);
        }
        throw new TimeoutException($"No backend of {application} waited for the lock within 30 seconds.");
    }

    private SessionRecord NewRecord()
    {
        var now = _clock.GetUtcNow();
        return new SessionRecord
        {
            Id = Guid.NewGuid().ToString(),
            CredentialHash = RandomNumberGenerator.GetBytes(32),
            Data = new Dictionary<string, string>(),
            CreatedAt = now,
            LastSeenAt = now,
            IdleExpiresAt = now + TimeSpan.FromMinutes(30),
            AbsoluteExpiresAt = now + TimeSpan.FromHours(8),
        };
    }
}
