using Npgsql;

namespace Tessera.Demo.Tests;

/// <summary>
/// The PostgreSQL server the demo's PostgreSQL tests use: <c>TESSERA_TEST_POSTGRES</c>, which <c>./test.sh</c> sets after
/// starting a throwaway server. Never skipped: without it the tests fail and say how to run them.
/// </summary>
internal static class TestPostgres
{
    public const string Variable = "TESSERA_TEST_POSTGRES";

    private static int _databases;

    /// <summary>The admin connection string, or a failure telling how to get one.</summary>
    public static string AdminConnectionString =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{Variable} is not set, so there is no PostgreSQL to run the demo's PostgreSQL tests against. Run ./test.sh "
                + "(it starts a throwaway PostgreSQL and exports the variable), or set it to an Npgsql connection string of a server "
                + "where these tests may create databases.");

    /// <summary>Creates a fresh, empty database and returns its connection string (pool capped at <paramref name="maxPoolSize"/>).</summary>
    public static async Task<string> CreateDatabaseAsync(string purpose, int maxPoolSize = 20)
    {
        var admin = AdminConnectionString;
        var name = $"demo_{purpose}_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid():N}".ToLowerInvariant();
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(admin) { Database = name, MaxPoolSize = maxPoolSize }.ToString();
    }

    /// <summary>Drops a database made by <see cref="CreateDatabaseAsync"/>, closing whatever still uses it. Best effort.</summary>
    public static async Task DropDatabaseAsync(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database;
        try
        {
            await using var connection = new NpgsqlConnection(AdminConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
            await command.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
            // A leftover database on a throwaway test server is not worth a failure.
        }
    }
}

/// <summary>A fresh PostgreSQL database for one test class, dropped afterwards.</summary>
public sealed class DemoPostgresDatabase : IAsyncLifetime
{
    private string? _connectionString;

    /// <summary>The database's connection string.</summary>
    public string ConnectionString => _connectionString ?? throw new InvalidOperationException("Not created.");

    /// <inheritdoc />
    public async ValueTask InitializeAsync() => _connectionString = await TestPostgres.CreateDatabaseAsync("flow");

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_connectionString is not null)
        {
            await TestPostgres.DropDatabaseAsync(_connectionString);
        }
    }
}
