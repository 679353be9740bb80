using System.Diagnostics;
using System.Globalization;

namespace Tessera.HttpBench;

/// <summary>Runs wrk with pool.lua against one route, with a file of credentials (see pool.lua).</summary>
internal sealed class WrkRunner(string wrk, int threads, int connections, string scratch)
{
    private static readonly string Script = Path.Combine(AppContext.BaseDirectory, "pool.lua");

    private int _files;

    /// <summary>The command line of one run, for the report (the URL and the file vary).</summary>
    public string Describe(int seconds) => $"wrk -t{threads} -c{connections} -d{seconds}s --latency -s pool.lua";

    /// <summary>Runs wrk; also returns its CPU time in clock ticks, sampled from /proc while it runs.</summary>
    public async Task<(WrkResult Result, long CpuTicks)> RunAsync(Uri url, string method, bool refreshChains, IEnumerable<string> credentials, int seconds, CancellationToken cancellationToken)
    {
        var file = Path.Combine(scratch, $"credentials-{Interlocked.Increment(ref _files)}.txt");
        await File.WriteAllLinesAsync(file, credentials, cancellationToken);
        try
        {
            var start = new ProcessStartInfo(wrk)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[]
            {
                $"-t{threads}", $"-c{connections}", $"-d{seconds}s", "--latency", "--timeout", "5s", "-s", Script, url.ToString(),
                "--", refreshChains ? "refresh" : "header", file, threads.ToString(CultureInfo.InvariantCulture), method,
            })
            {
                start.ArgumentList.Add(argument);
            }
            using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {wrk}.");
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            // The last sample before wrk exits misses at most one interval of its CPU time (a few percent of a run).
            long ticks = 0;
            var exited = process.WaitForExitAsync(cancellationToken);
            while (!exited.IsCompleted)
            {
                ticks = Math.Max(ticks, CpuSnapshot.ProcessTicks(process.Id));
                await Task.WhenAny(exited, Task.Delay(100, cancellationToken));
            }
            await exited;
            var output = await stdout + await stderr;
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"wrk exited with status {process.ExitCode}:\n{output}");
            }
            return (WrkResult.Parse(output), ticks);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
