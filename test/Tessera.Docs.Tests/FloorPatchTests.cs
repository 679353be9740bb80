using System.Diagnostics;

namespace Tessera.Docs.Tests;

/// <summary>
/// docs/benchmarks.md measures the memory store's read routes against a floor, the demo with bench/floor.patch applied
/// (Tessera's part of a read taken out). The command it gives must keep working as the demo changes: the patch applies to
/// the tree as it is.
/// </summary>
public sealed class FloorPatchTests
{
    [Fact]
    public async Task TheFloorPatchAppliesToTheDemoAsItIs()
    {
        var start = new ProcessStartInfo("git", ["apply", "--check", "--verbose", "bench/floor.patch"])
        {
            WorkingDirectory = Repository.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var git = Process.Start(start)!;
        var output = git.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var errors = git.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await git.WaitForExitAsync(TestContext.Current.CancellationToken);

        Assert.True(git.ExitCode == 0, $"bench/floor.patch no longer applies; update it with the demo (git apply said: {await errors}{await output})");
        Assert.Contains("samples/Tessera.Demo/DemoEndpoints.cs", await errors + await output, StringComparison.Ordinal);
    }
}
