using System.Diagnostics;

namespace Tessera.TestServices;

/// <summary>
/// Runs <c>scripts/services.sh</c>, the one way this repository starts throwaway PostgreSQL and Redis servers (test.sh
/// and the bench scripts source the same file). Tests use it for servers they own: one they restart, kill or start with
/// a password. Linked into the test projects that need it.
/// </summary>
internal static class ServicesScript
{
    private static readonly Lazy<string> Script = new(FindScript);

    /// <summary>
    /// Runs <c>scripts/services.sh</c> with <paramref name="arguments"/> and returns the <c>KEY=VALUE</c> lines it printed.
    /// </summary>
    /// <exception cref="InvalidOperationException">The script failed; the message has what it wrote to stderr.</exception>
    public static async Task<IReadOnlyDictionary<string, string>> RunAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(Path.GetDirectoryName(Script.Value))!,
        };
        start.ArgumentList.Add(Script.Value);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException("bash did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            // Only the command, the service and the directory: server arguments may carry a password.
            throw new InvalidOperationException(
                $"scripts/services.sh {string.Join(' ', arguments.Take(3))} failed ({process.ExitCode}): {await stderr}");
        }
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                values[line[..equals]] = line[(equals + 1)..];
            }
        }
        return values;
    }

    private static string FindScript()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var script = Path.Combine(directory.FullName, "scripts", "services.sh");
            if (File.Exists(script))
            {
                return script;
            }
        }
        throw new InvalidOperationException($"scripts/services.sh not found above {AppContext.BaseDirectory}: run the tests from a clone of the repository.");
    }
}
