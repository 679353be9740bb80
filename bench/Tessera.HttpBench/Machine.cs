using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Tessera.HttpBench;

/// <summary>What the numbers were measured on, read from /proc, /etc/os-release and the tools themselves.</summary>
internal static class Machine
{
    public static string Describe(BenchOptions options)
    {
        var parts = new List<string>
        {
            $"{Environment.ProcessorCount} × {Field("/proc/cpuinfo", "model name") ?? "unknown CPU"} (nproc {Environment.ProcessorCount})",
            MemoryGiB() is { } gib ? string.Create(CultureInfo.InvariantCulture, $"{gib:0.#} GiB RAM") : "RAM unknown",
            $"{OsName()}, Linux {ReadTrimmed("/proc/sys/kernel/osrelease") ?? "?"}",
            $"{RuntimeInformation.FrameworkDescription} (server GC, the Web SDK's default)",
        };
        if (options.PostgresVersion is { } pg)
        {
            parts.Add(options.PostgresDurable
                ? $"PostgreSQL {pg} (durable: fsync, synchronous_commit and full_page_writes on, bench/http.sh --durable)"
                : $"PostgreSQL {pg} (fsync, synchronous_commit and full_page_writes off, as in test.sh)");
        }
        if (options.RedisVersion is { } redis)
        {
            parts.Add($"Redis {redis} (appendonly yes, no snapshots, as in test.sh)");
        }
        parts.Add(WrkVersion(options.Wrk));
        return string.Join("; ", parts);
    }

    private static string? Field(string path, string name) =>
        File.Exists(path)
            ? File.ReadLines(path).Where(l => l.StartsWith(name, StringComparison.Ordinal)).Select(l => l.Split(':', 2)[1].Trim()).FirstOrDefault()
            : null;

    private static double? MemoryGiB() =>
        Field("/proc/meminfo", "MemTotal") is { } total && long.TryParse(total.Split(' ')[0], CultureInfo.InvariantCulture, out var kib) ? kib / 1024.0 / 1024.0 : null;

    private static string OsName() =>
        File.Exists("/etc/os-release")
            ? File.ReadLines("/etc/os-release").Where(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal)).Select(l => l[12..].Trim('"')).FirstOrDefault() ?? "Linux"
            : "Linux";

    private static string? ReadTrimmed(string path) => File.Exists(path) ? File.ReadAllText(path).Trim() : null;

    private static string WrkVersion(string wrk)
    {
        try
        {
            // wrk -v prints "wrk <version> [epoll] Copyright ..." and its usage, and exits 1.
            var start = new ProcessStartInfo(wrk, "-v") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var process = Process.Start(start)!;
            var first = process.StandardOutput.ReadLine() ?? "";
            process.StandardOutput.ReadToEnd();
            process.StandardError.ReadToEnd();
            process.WaitForExit();
            var words = first.Split(' ');
            return words.Length > 1 ? $"wrk {words[1]}" : "wrk";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "wrk (version unknown)";
        }
    }
}
