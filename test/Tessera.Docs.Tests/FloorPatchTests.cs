using System.Diagnostics;

namespace Tessera.Docs.Tests;

/// <summary>
/// docs/benchmarks.md measures the memory store's read routes against a floor, the demo with bench/floor.patch applied
/// (Tessera's part of a read taken out), and against bench/core.patch (the floor plus only the signed credential's check,
/// a cookie's or an access token's, and the store's lookup), and Tessera against itself with bench/guarantees-off.patch
/// (switches that turn the per-request principal, the OnStarting commit and the commit gate off for GET requests). The
/// commands it gives must keep working as the demo and the library change: each patch applies to the tree as it is.
/// </summary>
public sealed class FloorPatchTests
{
    [Theory]
    [InlineData("bench/floor.patch", "samples/Tessera.Demo/DemoEndpoints.cs")]
    [InlineData("bench/core.patch", "samples/Tessera.Demo/DemoEndpoints.cs")]
    [InlineData("bench/guarantees-off.patch", "src/Tessera.AspNetCore/TesseraMiddleware.cs")]
    public async Task TheMeasurementPatchAppliesToTheTreeAsItIs(string patch, string changes)
    {
        var start = new ProcessStartInfo("git", ["apply", "--check", "--verbose", patch])
        {
            WorkingDirectory = Repository.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var git = Process.Start(start)!;
        var output = git.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var errors = git.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await git.WaitForExitAsync(TestContext.Current.CancellationToken);

        Assert.True(git.ExitCode == 0, $"{patch} no longer applies; update it with the demo (git apply said: {await errors}{await output})");
        Assert.Contains(changes, await errors + await output, StringComparison.Ordinal);
    }
}
