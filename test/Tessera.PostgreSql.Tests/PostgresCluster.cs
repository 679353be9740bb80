using Tessera.TestServices;

namespace Tessera.PostgreSql.Tests;

/// <summary>
/// A throwaway PostgreSQL cluster of this process, started by <c>scripts/services.sh</c> (the way test.sh starts the
/// shared one) in its own temp directory on a free loopback port, that a test may restart. Disposing stops it
/// (immediate mode) and deletes its directory.
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    private readonly string _directory;
    private int _disposed;

    private PostgresCluster(string directory, string connectionString)
    {
        _directory = directory;
        ConnectionString = connectionString;
    }

    /// <summary>The admin connection string (database <c>postgres</c>).</summary>
    public string ConnectionString { get; }

    /// <summary>Creates and starts a cluster (with room for 400 connections: the restart tests open many).</summary>
    /// <exception cref="InvalidOperationException">The script could not start one (say, no PostgreSQL installed).</exception>
    public static async Task<PostgresCluster> StartAsync()
    {
        var directory = Directory.CreateTempSubdirectory("tessera-pg-").FullName;
        try
        {
            var started = await ServicesScript.RunAsync("start", "postgres", directory, "--", "-c", "max_connections=400", "-c", "shared_preload_libraries=pg_stat_statements");
            return new PostgresCluster(directory, started["connection"]);
        }
        catch
        {
            await ServicesScript.RunAsync("remove", "postgres", directory);
            throw;
        }
    }

    /// <summary>
    /// Restarts the server as an operator would (<c>pg_ctl restart</c>, fast mode: every connection is terminated) and
    /// returns once it accepts connections again.
    /// </summary>
    public Task RestartAsync() => ServicesScript.RunAsync("restart", "postgres", _directory);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        try
        {
            await ServicesScript.RunAsync("remove", "postgres", _directory);
        }
        catch (InvalidOperationException)
        {
            // best effort: a leftover temporary directory is not worth a failure
        }
    }
}
