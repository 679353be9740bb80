using System.Diagnostics;

namespace Tessera.Docs.Tests;

/// <summary>
/// docs/benchmarks.md measures the memory store's read routes against a floor, the demo with bench/floor.patch applied
/// (Tessera's part of a read taken out), and against bench/core.patch (the floor plus only the signed credential's check,
/// a cookie's or an access token's, and the store's lookup). The commands it gives must keep working as the demo changes: each patch applies to the tree as it
/// is.
/// </summary>
public sealed class FloorPatchTests
{
    [Theory]
    [InlineData("bench/floor.patch")]
    [InlineData("bench/core.patch")]
    public async Task TheMeasurementPatchAppliesToTheDemoAsItIs(string patch)
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
        Assert.Contains("samples/Tessera.Demo/DemoEndpoints.cs", await errors + await output, StringComparison.Ordinal);
    }
}
