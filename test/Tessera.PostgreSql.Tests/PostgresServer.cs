using Npgsql;

namespace Tessera.PostgreSql.Tests;

/// <summary>
/// The PostgreSQL the tests run against: <c>TESSERA_TEST_POSTGRES</c> when set (test.sh sets it), otherwise a
/// throwaway cluster this process starts (initdb + pg_ctl, as the postgres user when running as root) and stops at
/// exit. Never skipped: without a server the tests fail with the reason.
/// </summary>
public static class PostgresServer
{
    private static readonly Lazy<Task<string>> Server = new(StartAsync, LazyThreadSafetyMode.ExecutionAndPublication);
    private static int _databases;

    /// <summary>The admin connection string (database <c>postgres</c>).</summary>
    public static Task<string> ConnectionStringAsync() => Server.Value;

    /// <summary>Creates a fresh, empty database and returns its connection string.</summary>
    public static async Task<string> CreateDatabaseAsync(string purpose)
    {
        var admin = await ConnectionStringAsync();
        var name = $"t_{purpose.ToLowerInvariant()}_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid():N}";
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(admin) { Database = name, MaxPoolSize = 20 }.ToString();
    }

    private static async Task<string> StartAsync()
    {
        if (Environment.GetEnvironmentVariable("TESSERA_TEST_POSTGRES") is { Length: > 0 } given)
        {
            return given;
        }
        var cluster = await PostgresCluster.StartAsync();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => cluster.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return cluster.ConnectionString;
    }
}

/// <summary>A fresh database per test class, with one data source; each store gets its own schema in it.</summary>
public sealed class PostgresDatabase : IAsyncLifetime
{
    private static readonly Lazy<Task<PostgresDatabase>> SharedDatabase = new(() => CreateSharedAsync(multiplexing: false), LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly Lazy<Task<PostgresDatabase>> SharedMultiplexingDatabase = new(() => CreateSharedAsync(multiplexing: true), LazyThreadSafetyMode.ExecutionAndPublication);
    private int _schemas;

    /// <summary>
    /// The database the store kits share for the whole run, each store in a schema of its own (a kit is made per test,
    /// so it cannot take a class fixture). Its pool is larger than a class's, since several suites use it at once.
    /// </summary>
    public static PostgresDatabase Shared => SharedDatabase.Value.GetAwaiter().GetResult();

    /// <summary>
    /// Like <see cref="Shared"/>, a database of its own whose data source multiplexes (Npgsql's <c>Multiplexing=true</c>,
    /// built by the test as an application would), and whose stores listen through
    /// <see cref="PostgreSqlSessionStoreOptions.ListenConnectionString"/>.
    /// </summary>
    public static PostgresDatabase SharedMultiplexing => SharedMultiplexingDatabase.Value.GetAwaiter().GetResult();

    /// <summary>What <see cref="CreateStoreAsync"/> sets as the stores' listen connection string: <see langword="null"/> unless multiplexing.</summary>
    public string? ListenConnectionString { get; private set; }

    /// <summary>The database's connection string.</summary>
    public string ConnectionString { get; private set; } = "";

    /// <summary>A data source on the database, shared by the class's stores.</summary>
    public NpgsqlDataSource DataSource { get; private set; } = null!;

    /// <summary>A new schema name, unique in this database.</summary>
    public string NewSchema() => $"s{Interlocked.Increment(ref _schemas)}";

    /// <summary>Creates a migrated store in a fresh schema.</summary>
    public async Task<PostgreSqlSessionStore> CreateStoreAsync(TimeProvider clock, Action<PostgreSqlSessionStoreOptions>? configure = null)
    {
        var options = new PostgreSqlSessionStoreOptions { Schema = NewSchema(), ListenConnectionString = ListenConnectionString };
        configure?.Invoke(options);
        var store = new PostgreSqlSessionStore(DataSource, options, clock);
        await store.EnsureSchemaAsync();
        return store;
    }

    /// <summary>Runs SQL on the database.</summary>
    public async Task ExecuteAsync(string sql)
    {
        await using var command = DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Runs a scalar query on the database.</summary>
    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = DataSource.CreateCommand(sql);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<PostgresDatabase> CreateSharedAsync(bool multiplexing)
    {
        var database = new PostgresDatabase();
        var connectionString = new NpgsqlConnectionStringBuilder(await PostgresServer.CreateDatabaseAsync(multiplexing ? "mpx" : "kits")) { MaxPoolSize = 60 };
        if (multiplexing)
        {
            database.ListenConnectionString = connectionString.ToString();
            connectionString.Multiplexing = true;
            connectionString.MaxPoolSize = 10;
        }
        database.ConnectionString = connectionString.ToString();
        database.DataSource = NpgsqlDataSource.Create(database.ConnectionString);
        return database;
    }

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        ConnectionString = await PostgresServer.CreateDatabaseAsync("db");
        DataSource = NpgsqlDataSource.Create(ConnectionString);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (DataSource is not null)
        {
            await DataSource.DisposeAsync();
        }
    }
}
