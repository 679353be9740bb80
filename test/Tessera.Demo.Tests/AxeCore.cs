using System.Diagnostics;
using System.Text.Json;
using Microsoft.Playwright;

namespace Tessera.Demo.Tests;

/// <summary>
/// axe-core (the npm package pinned in this project's <c>axe</c> folder, <c>package.json</c> and its lockfile), copied to
/// a scratch directory and installed with <c>npm ci</c> once per test class, then injected into a page to run its
/// accessibility rules there. No npm or no registry, no test: it fails.
/// </summary>
public sealed class AxeCore : IAsyncLifetime
{
    private string _directory = "";
    private string? _script;

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        var source = Path.Combine(AppContext.BaseDirectory, "axe");
        _directory = Directory.CreateTempSubdirectory("tessera-axe-").FullName;
        foreach (var file in new[] { "package.json", "package-lock.json" })
        {
            File.Copy(Path.Combine(source, file), Path.Combine(_directory, file));
        }
        var start = new ProcessStartInfo("npm") { WorkingDirectory = _directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "ci", "--no-audit", "--no-fund", "--loglevel=error" })
        {
            start.ArgumentList.Add(arg);
        }
        using var npm = Process.Start(start)!;
        var stdout = npm.StandardOutput.ReadToEndAsync();
        var stderr = npm.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        try
        {
            await npm.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            npm.Kill(entireProcessTree: true);
            throw new TimeoutException("npm ci of axe-core did not finish within 4 minutes.");
        }
        if (npm.ExitCode != 0)
        {
            throw new InvalidOperationException($"npm ci of axe-core failed ({npm.ExitCode}); the accessibility tests need npm and its registry.\n{await stdout}\n{await stderr}");
        }
        _script = await File.ReadAllTextAsync(Path.Combine(_directory, "node_modules", "axe-core", "axe.min.js"));
    }

    /// <summary>
    /// Runs every rule axe runs by default (WCAG 2 A and AA, best practices) on the page as it is now; returns one line
    /// per violation, <c>rule-id (impact): help @ target, target</c>, or none.
    /// </summary>
    public async Task<IReadOnlyList<string>> ViolationsAsync(IPage page)
    {
        var script = _script ?? throw new InvalidOperationException("axe-core is not installed.");
        if (!await page.EvaluateAsync<bool>("() => typeof window.axe === 'object'"))
        {
            await page.AddScriptTagAsync(new() { Content = script });
        }
        var violations = await page.EvaluateAsync<JsonElement>("""
            async () => (await axe.run(document, { resultTypes: ['violations'] })).violations.map(v =>
                `${v.id} (${v.impact}): ${v.help} @ ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)
            """);
        return [.. violations.EnumerateArray().Select(v => v.GetString()!)];
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // a scratch directory; best effort
        }
        return ValueTask.CompletedTask;
    }
}
