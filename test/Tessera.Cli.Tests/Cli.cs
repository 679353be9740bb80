using System.Diagnostics;
using System.Text.Json;

namespace Tessera.Cli.Tests;

/// <summary>What one run of the tool printed and returned.</summary>
public sealed record CliResult(int ExitCode, string Output, string Error)
{
    public JsonElement Json()
    {
        Assert.True(ExitCode == 0, $"exit code {ExitCode}, stderr: {Error}");
        using var document = JsonDocument.Parse(Output);
        return document.RootElement.Clone();
    }

    public string All => Output + Error;
}

/// <summary>Runs the tool in process (its entry point, console captured) or as a process (the built tool).</summary>
public static class Cli
{
    public static async Task<CliResult> RunAsync(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await TesseraCli.RunAsync(args, output, error, name => environment is not null && environment.TryGetValue(name, out var v) ? v : null);
        return new CliResult(code, output.ToString(), error.ToString());
    }

    public static Task<CliResult> RunAsync(params string[] args) => RunAsync(null, args);

    /// <summary>Runs the built tool (<c>dotnet Tessera.Cli.dll</c>) as a child process.</summary>
    public static async Task<CliResult> RunProcessAsync(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Tessera.Cli.dll");
        Assert.True(File.Exists(dll), $"the built tool is missing at {dll}");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment.Remove("TESSERA_STORE");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        return new CliResult(process.ExitCode, await stdout, await stderr);
    }
}
