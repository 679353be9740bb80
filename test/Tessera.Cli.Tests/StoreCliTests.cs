using Npgsql;
using Tessera.PostgreSql;
using Tessera.Redis;
using Tessera.Redis.Resp;
using Tessera.Sqlite;

namespace Tessera.Cli.Tests;

public sealed class SqliteCliTests : CliStoreTests
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tessera-cli-").FullName;
    private SqliteSessionStore? _store;

    private string DatabasePath => Path.Combine(_directory, "sessions.db");

    protected override string StoreUrl => "sqlite:" + DatabasePath;

    protected override Task<ISessionStore> OpenStoreAsync() =>
        Task.FromResult<ISessionStore>(_store ??= new SqliteSessionStore(new SqliteSessionStoreOptions { ConnectionString = "Data Source=" + DatabasePath }));

    public override async ValueTask DisposeAsync()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}

public sealed class PostgreSqlCliTests : CliStoreTests
{
    private const string Password = "pg-Secret-7f3a";
    private string _url = "";
    private string _connectionString = "";
    private PostgreSqlSessionStore? _store;

    protected override string StoreUrl => _url;

    protected override Task<ISessionStore> OpenStoreAsync() =>
        Task.FromResult<ISessionStore>(_store ??= new PostgreSqlSessionStore(new PostgreSqlSessionStoreOptions { ConnectionString = _connectionString }));

    public override async ValueTask InitializeAsync()
    {
        var admin = TestServices.Postgres();
        var database = "tessera_cli_" + Guid.NewGuid().ToString("N")[..12];
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", connection);
            await create.ExecuteNonQueryAsync();
        }
        var builder = new NpgsqlConnectionStringBuilder(admin) { Database = database };
        _connectionString = builder.ConnectionString;
        // test.sh's server trusts local connections, so any password works; the tests check it is never printed.
        _url = $"postgres://{builder.Username ?? "postgres"}:{Password}@{builder.Host}:{builder.Port}/{database}";
        var migrate = await Cli.RunAsync("--store", _url, "migrate");
        Assert.True(migrate.ExitCode == 0, migrate.All);
        Assert.DoesNotContain(Password, migrate.All, StringComparison.Ordinal);
    }

    public override async ValueTask DisposeAsync()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }
    }

    [Fact]
    public async Task ThePasswordIsNeverPrinted()
    {
        await SeedAsync();
        foreach (var args in new[] { new[] { "stats" }, ["list"], ["stats", "--json"], ["list", "--json"], ["clear"] })
        {
            var result = await Cli.RunAsync(["--store", _url, .. args]);
            Assert.DoesNotContain(Password, result.All, StringComparison.Ordinal);
        }
    }
}

public sealed class RedisCliTests : CliStoreTests
{
    private readonly string _prefix = "tessera-cli-" + Guid.NewGuid().ToString("N")[..12];
    private RedisConnection? _connection;
    private RedisSessionStore? _store;

    protected override string StoreUrl => $"redis://{TestServices.Redis()}/0?prefix={_prefix}";

    protected override async Task<ISessionStore> OpenStoreAsync()
    {
        _connection ??= await RedisConnection.ConnectAsync(RedisOptions.Parse(TestServices.Redis()));
        return _store ??= new RedisSessionStore(_connection, new RedisSessionStoreOptions { KeyPrefix = _prefix });
    }

    public override async ValueTask DisposeAsync()
    {
        if (_store is not null)
        {
            await _store.ClearAsync();
            await _store.DisposeAsync();
        }
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }
    }

    [Fact]
    public async Task ThePrefixOptionSelectsAnotherStore()
    {
        await SeedAsync();

        var other = (await Cli.RunAsync("--store", StoreUrl, "--prefix", _prefix + "-other", "stats", "--json")).Json();
        var mine = (await Cli.RunAsync("--store", $"redis://{TestServices.Redis()}", "--prefix", _prefix, "stats", "--json")).Json();

        Assert.Equal(0, other.GetProperty("total").GetInt64());
        Assert.Equal(4, mine.GetProperty("total").GetInt64());
    }
}

/// <summary>The servers test.sh starts. Never skipped: without them the tests fail and say how to get them.</summary>
internal static class TestServices
{
    public static string Postgres() => Environment.GetEnvironmentVariable("TESSERA_TEST_POSTGRES") is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException("TESSERA_TEST_POSTGRES is not set: run the tests with ./test.sh (it starts a PostgreSQL and sets it).");

    public static string Redis() => Environment.GetEnvironmentVariable("TESSERA_TEST_REDIS") is { Length: > 0 } value
        ? value.Trim()
        : throw new InvalidOperationException("TESSERA_TEST_REDIS is not set: run the tests with ./test.sh (it starts a Redis and sets it).");
}
