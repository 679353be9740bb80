using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Tessera.HttpBench;

/// <summary>
/// A built ASP.NET Core app (<c>dotnet App.dll</c>) on a port the kernel picks: the address comes from the host's
/// "Now listening on" line, so nothing races for a port. Disposing kills it by its process id.
/// </summary>
internal sealed partial class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private int _logRead;

    private ServerProcess(Process process) => _process = process;

    public Uri BaseAddress { get; private set; } = null!;

    public int Pid => _process.Id;

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>What the server printed since the last call (it logs warnings and errors only), for a run that failed.</summary>
    public string TakeNewLog()
    {
        lock (_log)
        {
            var text = _log.ToString(_logRead, _log.Length - _logRead);
            _logRead = _log.Length;
            return text;
        }
    }

    public static async Task<ServerProcess> StartAsync(string dll, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            // The content root, where appsettings.json is: the build output.
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        start.ArgumentList.Add(dll);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        // Only the arguments configure the app: nothing from the caller's environment.
        foreach (var name in start.Environment.Keys.Where(IsAppSetting).ToList())
        {
            start.Environment.Remove(name);
        }

        var server = new ServerProcess(new Process { StartInfo = start, EnableRaisingEvents = true });
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (server._log)
            {
                server._log.AppendLine(line);
            }
            if (ListeningLine().Match(line) is { Success: true } match)
            {
                listening.TrySetResult(new Uri(match.Groups[1].Value.TrimEnd('/') + "/"));
            }
        }
        server._process.OutputDataReceived += (_, e) => OnLine(e.Data);
        server._process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        server._process.Start();
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();

        var first = await Task.WhenAny(listening.Task, server._process.WaitForExitAsync(), Task.Delay(timeout));
        if (first != listening.Task)
        {
            var why = server._process.HasExited ? $"exited with status {server._process.ExitCode}" : $"did not listen within {timeout.TotalSeconds:0} s";
            await server.DisposeAsync();
            throw new InvalidOperationException($"{Path.GetFileName(dll)} {why}:\n{server.Log}");
        }
        server.BaseAddress = await listening.Task;
        return server;
    }

    public async ValueTask DisposeAsync() => await EndAsync(_process);

    /// <summary>Kills <paramref name="process"/> (and its children) unless it already ended, waits for it, and disposes it.</summary>
    internal static async ValueTask EndAsync(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            // Already gone, or never started.
        }
        process.Dispose();
    }

    private static bool IsAppSetting(string variable) =>
        variable.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase)
        || variable.Equals("DOTNET_ENVIRONMENT", StringComparison.OrdinalIgnoreCase)
        || variable.StartsWith("Tessera__", StringComparison.OrdinalIgnoreCase)
        || variable.StartsWith("ConnectionStrings__", StringComparison.OrdinalIgnoreCase)
        || variable.StartsWith("Demo__", StringComparison.OrdinalIgnoreCase)
        || variable.StartsWith("Logging__", StringComparison.OrdinalIgnoreCase);

    [GeneratedRegex(@"Now listening on: (http://\S+)", RegexOptions.CultureInvariant)]
    private static partial Regex ListeningLine();
}
