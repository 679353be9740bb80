using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Tessera.Demo.Tests;

/// <summary>
/// The built demo (<c>dotnet Tessera.Demo.dll</c>, Program.cs included) running as a process of its own on a port the
/// kernel picks (<c>--urls http://127.0.0.1:0</c>; the address is read from the "Now listening on" log line, so two
/// instances can never race for a port). Disposing kills it, by its process id.
/// </summary>
internal sealed partial class DemoProcess : IAsyncDisposable
{
    // Every demo process still running, so that one a test forgot (or could not) dispose is still killed when the test
    // host exits normally.
    private static readonly ConcurrentDictionary<int, Process> Running = new();

    private readonly Process _process;
    private readonly StringBuilder _output;

    static DemoProcess() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (var process in Running.Values)
        {
            Kill(process);
        }
    };

    private DemoProcess(string name, Process process, StringBuilder output, Uri baseAddress)
    {
        Name = name;
        _process = process;
        _output = output;
        BaseAddress = baseAddress;
    }

    /// <summary>A label for messages ("A", "B", ...).</summary>
    public string Name { get; }

    /// <summary>Where the instance listens, for example <c>http://127.0.0.1:40123/</c>.</summary>
    public Uri BaseAddress { get; }

    /// <summary>Its process id.</summary>
    public int Id => _process.Id;

    /// <summary>What it has printed so far (standard output and error), for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The absolute URL of <paramref name="path"/> on this instance.</summary>
    public string Url(string path) => new Uri(BaseAddress, path).ToString();

    /// <summary>Starts the demo with <paramref name="arguments"/> and waits until it listens; kills it if it does not.</summary>
    public static async Task<DemoProcess> StartAsync(string name, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Tessera.Demo.dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"The built demo is missing at {dll}; build the solution first.");
        }
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(dll);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add("http://127.0.0.1:0");
        start.ArgumentList.Add("--Logging:LogLevel:Default=Warning");
        start.ArgumentList.Add("--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information");
        // Everything the demo uses comes from the arguments, not from whatever the test runner's environment holds.
        foreach (var variable in start.Environment.Keys.ToList())
        {
            if (variable.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase) || variable.StartsWith("DOTNET_ENVIRONMENT", StringComparison.OrdinalIgnoreCase)
                || variable.StartsWith("Tessera__", StringComparison.OrdinalIgnoreCase) || variable.StartsWith("ConnectionStrings__", StringComparison.OrdinalIgnoreCase)
                || variable.StartsWith("Demo__", StringComparison.OrdinalIgnoreCase))
            {
                start.Environment.Remove(variable);
            }
        }

        var output = new StringBuilder();
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (output)
            {
                output.AppendLine(line);
            }
            if (ListeningLine().Match(line) is { Success: true } match)
            {
                listening.TrySetResult(new Uri(match.Groups[1].Value.TrimEnd('/') + "/"));
            }
        }
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Start();
        Running[process.Id] = process;
        try
        {
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var exited = process.WaitForExitAsync();
            var finished = await Task.WhenAny(listening.Task, exited, Task.Delay(timeout));
            if (finished != listening.Task)
            {
                var why = finished == exited ? $"exited with {process.ExitCode}" : $"did not listen within {timeout.TotalSeconds:0} s";
                string text;
                lock (output)
                {
                    text = output.ToString();
                }
                throw new InvalidOperationException($"Demo instance {name} {why}. Its output:\n{text}");
            }
            return new DemoProcess(name, process, output, await listening.Task);
        }
        catch
        {
            Stop(process);
            throw;
        }
    }

    public ValueTask DisposeAsync()
    {
        Stop(_process);
        return ValueTask.CompletedTask;
    }

    private static void Stop(Process process)
    {
        Kill(process);
        try
        {
            process.WaitForExit(TimeSpan.FromSeconds(10));
        }
        catch (InvalidOperationException)
        {
        }
        Running.TryRemove(new KeyValuePair<int, Process>(process.Id, process));
        process.Dispose();
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            // already gone
        }
    }

    [GeneratedRegex(@"Now listening on: (http://\S+)", RegexOptions.CultureInvariant)]
    private static partial Regex ListeningLine();
}
