using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Tessera.HttpBench;

/// <summary>
/// Compas 0.5.5's <c>sessionStoreRefreshTokens</c>, called in process by bench/compas/refresh.mjs on the benchmark's
/// PostgreSQL (a database of its own), one measured run per round like every other route. No HTTP, no JSON body, no
/// cookie or header parsing: the library call alone, so Tessera's <c>POST /api/refresh</c> over HTTP is compared with
/// less work than it does itself (the conservative comparison). Disposing ends the node process by its id.
/// </summary>
internal sealed class CompasRefresh : IAsyncDisposable
{
    private readonly Process _process;

    private CompasRefresh(Process process) => _process = process;

    public int Pid => _process.Id;

    /// <summary>Starts the driver in <paramref name="directory"/> (bench/compas with its npm packages installed).</summary>
    /// <exception cref="InvalidOperationException">node did not start, or the driver failed before "ready".</exception>
    public static async Task<CompasRefresh> StartAsync(string directory, string migration, string connectionUrl, int concurrency, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("node")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        foreach (var argument in (string[])["refresh.mjs", "--pg", connectionUrl, "--migration", migration, "--concurrency", concurrency.ToString(CultureInfo.InvariantCulture)])
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("node did not start.");
        var driver = new CompasRefresh(process);
        var ready = await process.StandardOutput.ReadLineAsync(cancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
        if (ready != "ready")
        {
            var error = await process.StandardError.ReadToEndAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
            await driver.DisposeAsync();
            throw new InvalidOperationException($"the Compas driver failed to start: {ready} {error}".Trim());
        }
        return driver;
    }

    /// <summary>Refreshes back to back for <paramref name="seconds"/>, in the driver's workers.</summary>
    /// <exception cref="InvalidOperationException">The driver reported an error or ended.</exception>
    public async Task<WrkResult> RunAsync(int seconds, CancellationToken cancellationToken)
    {
        await _process.StandardInput.WriteLineAsync($"run {seconds.ToString(CultureInfo.InvariantCulture)}".AsMemory(), cancellationToken);
        await _process.StandardInput.FlushAsync(cancellationToken);
        var line = await _process.StandardOutput.ReadLineAsync(cancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(seconds + 120), cancellationToken)
            ?? throw new InvalidOperationException("the Compas driver ended.");
        return Parse(line);
    }

    /// <summary>Reads the driver's result line.</summary>
    /// <exception cref="InvalidOperationException">The line is the driver's error report.</exception>
    /// <exception cref="FormatException">The line is not a result.</exception>
    public static WrkResult Parse(string line)
    {
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        if (root.TryGetProperty("error", out var error))
        {
            throw new InvalidOperationException($"the Compas driver failed: {error.GetString()}");
        }
        if (!root.TryGetProperty("requests", out var requests) || !root.TryGetProperty("seconds", out var seconds))
        {
            throw new FormatException($"Not a Compas driver result: {line}");
        }
        var latency = root.GetProperty("latencyMs").EnumerateObject()
            .ToDictionary(p => int.Parse(p.Name, CultureInfo.InvariantCulture), p => p.Value.GetDouble());
        var count = requests.GetInt64();
        var elapsed = seconds.GetDouble();
        return new WrkResult(count, elapsed, elapsed > 0 ? count / elapsed : 0, latency, root.GetProperty("failures").GetInt64(), 0);
    }

    public ValueTask DisposeAsync() => ServerProcess.EndAsync(_process);
}
