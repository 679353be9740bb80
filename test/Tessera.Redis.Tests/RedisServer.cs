using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Tessera.TestServices;

namespace Tessera.Redis.Tests;

/// <summary>
/// A redis-server of one test, in its own temp directory on a free loopback port, started by <c>scripts/services.sh</c>
/// (the way test.sh starts the shared one) with append-only persistence, so data survives a restart on the same
/// directory. Disposing stops it and deletes the directory.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private RedisServer(string directory, int port)
    {
        Directory = directory;
        Port = port;
    }

    /// <summary>The loopback port it listens on, the same across restarts.</summary>
    public int Port { get; }

    /// <summary>Its data directory (the append-only file, the log).</summary>
    public string Directory { get; }

    /// <summary><c>127.0.0.1:port</c>.</summary>
    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>Starts a server; <paramref name="extraArgs"/> (say <c>--requirepass</c>) are kept for later starts.</summary>
    public static async Task<RedisServer> StartAsync(params string[] extraArgs)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("tessera-redis-test-").FullName;
        try
        {
            var started = await ServicesScript.RunAsync(["start", "redis", directory, "--", .. extraArgs]);
            var address = started["address"];
            return new RedisServer(directory, int.Parse(address[(address.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture));
        }
        catch
        {
            System.IO.Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    /// <summary>Starts it again on the same port and directory (the append-only file is replayed).</summary>
    public Task StartAsync() => ServicesScript.RunAsync("start", "redis", Directory);

    /// <summary>Stops it the way an operator would (SIGTERM: a clean shutdown that writes the append-only file).</summary>
    public Task ShutdownAsync() => ServicesScript.RunAsync("halt", "redis", Directory, "TERM");

    /// <summary>Kills it (SIGKILL), as a crash would.</summary>
    public Task StopAsync() => ServicesScript.RunAsync("halt", "redis", Directory, "KILL");

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await ServicesScript.RunAsync("remove", "redis", Directory);

    /// <summary>A loopback port nothing listens on (for now).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
