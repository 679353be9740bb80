using StackExchange.Redis;
using Tessera.PostgreSql;
using Tessera.Redis;
using Tessera.Sqlite;

namespace Tessera.Benchmarks;

/// <summary>
/// The stores a benchmark can run against: memory and SQLite (a temporary file) always, PostgreSQL and Redis only when
/// <c>TESSERA_BENCH_POSTGRES</c> (an Npgsql connection string) or <c>TESSERA_BENCH_REDIS</c> (a StackExchange.Redis
/// configuration string, such as host:port) is set.
/// </summary>
public static class BenchStores
{
    /// <summary>Environment variable naming the PostgreSQL to benchmark against.</summary>
    public const string PostgresVariable = "TESSERA_BENCH_POSTGRES";

    /// <summary>Environment variable naming the Redis to benchmark against.</summary>
    public const string RedisVariable = "TESSERA_BENCH_REDIS";

    /// <summary>The store names available in this environment, memory and sqlite first.</summary>
    public static IReadOnlyList<string> Available()
    {
        var names = new List<string> { "memory", "sqlite" };
        if (PostgresConnectionString is not null)
        {
            names.Add("postgres");
        }
        if (RedisEndpoint is not null)
        {
            names.Add("redis");
        }
        return names;
    }

    /// <summary>One line saying which optional stores were left out and why (empty when none were).</summary>
    public static string LeftOutNotice()
    {
        var missing = new List<string>();
        if (PostgresConnectionString is null)
        {
            missing.Add($"PostgreSQL ({PostgresVariable} is not set)");
        }
        if (RedisEndpoint is null)
        {
            missing.Add($"Redis ({RedisVariable} is not set)");
        }
        return missing.Count == 0 ? "" : "Left out: " + string.Join(", ", missing) + ".";
    }

    private static string? PostgresConnectionString => Variable(PostgresVariable);

    private static string? RedisEndpoint => Variable(RedisVariable);

    /// <summary>
    /// Creates an empty store of the named kind on <paramref name="clock"/>. SQLite gets a fresh file in a temporary
    /// directory, PostgreSQL a fresh schema, Redis a fresh key prefix; <see cref="BenchStore.DisposeAsync"/> removes them.
    /// </summary>
    /// <param name="name">memory, sqlite, postgres or redis.</param>
    /// <param name="clock">The clock the store decides expiry by.</param>
    /// <param name="maxSessions">The size bound of the bounded stores (memory, SQLite).</param>
    /// <returns>The store and how to clean it up.</returns>
    public static async Task<BenchStore> CreateAsync(string name, TimeProvider clock, int maxSessions = 10_000_000)
    {
        switch (name)
        {
            case "memory":
                return new BenchStore(name, new InMemorySessionStore(clock, new InMemorySessionStoreOptions { MaxSessions = maxSessions }), null);
            case "sqlite":
            {
                var directory = Directory.CreateTempSubdirectory("tessera-bench-sqlite-").FullName;
                var store = new SqliteSessionStore(
                    new SqliteSessionStoreOptions { ConnectionString = $"Data Source={Path.Combine(directory, "sessions.db")}", MaxSessions = maxSessions },
                    clock);
                await store.InitializeAsync();
                return new BenchStore(name, store, async () =>
                {
                    await store.DisposeAsync();
                    Directory.Delete(directory, recursive: true);
                });
            }
            case "postgres":
            {
                var connectionString = PostgresConnectionString ?? throw new InvalidOperationException($"{PostgresVariable} is not set.");
                var schema = "bench_" + Guid.NewGuid().ToString("N")[..12];
                var store = new PostgreSqlSessionStore(new PostgreSqlSessionStoreOptions { ConnectionString = connectionString, Schema = schema }, clock);
                await store.EnsureSchemaAsync();
                return new BenchStore(name, store, async () =>
                {
                    await store.DisposeAsync();
                    await using var connection = new Npgsql.NpgsqlConnection(connectionString);
                    await connection.OpenAsync();
                    await using var drop = new Npgsql.NpgsqlCommand($"DROP SCHEMA \"{schema}\" CASCADE", connection);
                    await drop.ExecuteNonQueryAsync();
                }, schema);
            }
            case "redis":
            {
                var endpoint = RedisEndpoint ?? throw new InvalidOperationException($"{RedisVariable} is not set.");
                var prefix = "tessera-bench-" + Guid.NewGuid().ToString("N")[..12];
                var connection = await ConnectionMultiplexer.ConnectAsync(endpoint);
                var store = new RedisSessionStore(connection, new RedisSessionStoreOptions { KeyPrefix = prefix }, clock);
                return new BenchStore(name, store, async () =>
                {
                    await store.DisposeAsync();
                    await DeleteRedisKeysAsync(connection, prefix);
                    await connection.DisposeAsync();
                }, prefix, connection);
            }
            default:
                throw new ArgumentException($"Unknown store '{name}': use memory, sqlite, postgres or redis.", nameof(name));
        }
    }

    /// <summary>
    /// Deletes every key under <paramref name="prefix"/> on every primary (SCAN), one key per command: the store's keys
    /// sit on many hash slots, which a multi-key UNLINK on a cluster refuses.
    /// </summary>
    private static async Task DeleteRedisKeysAsync(IConnectionMultiplexer connection, string prefix)
    {
        var db = connection.GetDatabase();
        foreach (var server in connection.GetServers().Where(s => s.IsConnected && !s.IsReplica))
        {
            var keys = new List<RedisKey>();
            await foreach (var key in server.KeysAsync(db.Database, prefix + ":*", pageSize: 10_000))
            {
                keys.Add(key);
            }
            foreach (var chunk in keys.Chunk(1_000))
            {
                await Task.WhenAll(chunk.Select(key => db.KeyDeleteAsync(key, CommandFlags.DemandMaster)));
            }
        }
    }

    /// <summary>
    /// Loads <paramref name="session"/> by its credential hash as the middleware does: with the route its credential
    /// carries when the store finds credentials by route (Redis), by the hash alone otherwise.
    /// </summary>
    public static ValueTask<SessionRecord?> LoadByCredentialAsync(ISessionStore store, SessionRecord session) =>
        store is IRoutedSessionStore routed
            ? routed.LoadByCredentialAsync(session.CredentialHash, SessionRoute.Of(session.Id))
            : store.LoadByCredentialAsync(session.CredentialHash);

    private static string? Variable(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value.Trim() : null;
}

/// <summary>A store made for a benchmark, with what it needs to clean up after itself.</summary>
/// <param name="Name">memory, sqlite, postgres or redis.</param>
/// <param name="Store">The store.</param>
/// <param name="Cleanup">Removes what the store wrote (file, schema, keys), or <see langword="null"/>.</param>
/// <param name="Namespace">The PostgreSQL schema or Redis key prefix the store writes under, or <see langword="null"/>.</param>
/// <param name="Redis">The Redis multiplexer for bulk loading, or <see langword="null"/>.</param>
public sealed record BenchStore(string Name, ISessionStore Store, Func<Task>? Cleanup, string? Namespace = null, IConnectionMultiplexer? Redis = null) : IAsyncDisposable
{
    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Cleanup is not null)
        {
            await Cleanup();
        }
    }
}
