using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Tessera.PostgreSql.Tests;

/// <summary>
/// A throwaway PostgreSQL cluster of this process (initdb + pg_ctl, as the postgres user when running as root), on a
/// free loopback port, that a test may restart. Disposing stops it (immediate mode) and deletes its directory.
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    private readonly string _bin;
    private readonly string _directory;
    private readonly bool _asRoot;
    private readonly int _port;
    private int _disposed;

    private PostgresCluster(string bin, string directory, bool asRoot, int port)
    {
        _bin = bin;
        _directory = directory;
        _asRoot = asRoot;
        _port = port;
    }

    /// <summary>The admin connection string (database <c>postgres</c>).</summary>
    public string ConnectionString => $"Host=127.0.0.1;Port={_port};Username=postgres;Database=postgres";

    /// <summary>Creates and starts a cluster.</summary>
    /// <exception cref="InvalidOperationException">No PostgreSQL server binaries are installed.</exception>
    public static async Task<PostgresCluster> StartAsync()
    {
        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderDescending().FirstOrDefault()
            : null;
        if (bin is null)
        {
            throw new InvalidOperationException("No PostgreSQL server: set TESSERA_TEST_POSTGRES, run ./test.sh (it starts one), or install the postgresql package.");
        }
        var directory = Directory.CreateTempSubdirectory("tessera-pg-").FullName;
        var asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            await RunAsync("chown", "postgres:postgres", directory);
        }
        var cluster = new PostgresCluster(bin, directory, asRoot, FreePort());
        await cluster.PgAsync("initdb", "-D", $"{directory}/data", "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8");
        await cluster.PgCtlAsync("start");
        return cluster;
    }

    /// <summary>
    /// Restarts the server as an operator would (<c>pg_ctl restart</c>, fast mode: every connection is terminated) and
    /// returns once it accepts connections again.
    /// </summary>
    public Task RestartAsync() => PgCtlAsync("restart", "-m", "fast");

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        try
        {
            await PgAsync("pg_ctl", "-D", $"{_directory}/data", "-m", "immediate", "-w", "stop");
            Directory.Delete(_directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            // best effort: a leftover temporary directory is not worth a failure
        }
    }

    private Task PgCtlAsync(string action, params string[] more) => PgAsync("pg_ctl", ["-D", $"{_directory}/data", "-l", $"{_directory}/log", "-w", "-t", "60", .. more, "-o",
        $"-c listen_addresses=127.0.0.1 -p {_port} -k {_directory} -c fsync=off -c synchronous_commit=off -c max_connections=400", action]);

    private Task PgAsync(string program, params string[] args) =>
        _asRoot ? RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(_bin, program), .. args]) : RunAsync(Path.Combine(_bin, program), args);

    private static async Task RunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({process.ExitCode}): {await stdout} {await stderr}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
