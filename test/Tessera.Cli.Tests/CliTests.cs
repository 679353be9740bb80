using System.Text.Json;

namespace Tessera.Cli.Tests;

/// <summary>What does not depend on a store kind: usage errors, exit codes, secrets, keys, the built tool.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tessera-cli-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Theory]
    [InlineData("Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0")]
    [InlineData("Zoë 😀 \\ [bold]", "Zoë 😀 \\ [bold]")]
    [InlineData("a\tb\r\nc\u0000d\u007fe", @"a\x09b\x0D\x0Ac\x00d\x7Fe")]
    [InlineData("\u0085\u009b\u009f", @"\x85\x9B\x9F")]
    [InlineData("user\u202Egnp.exe", @"user\u202Egnp.exe")]
    [InlineData("\u061C\u200E\u200F\u202A\u202B\u202C\u202D\u2066\u2067\u2068\u2069\u2028\u2029",
        @"\u061C\u200E\u200F\u202A\u202B\u202C\u202D\u2066\u2067\u2068\u2069\u2028\u2029")]
    public void TerminalTextShowsControlAndBidiCharactersAsVisibleEscapesAndLeavesTheRestAlone(string text, string printable)
    {
        Assert.Equal(printable, TerminalText.Printable(text));
    }

    [Fact]
    public async Task KeysGenerateMakesADifferent32ByteBase64KeyEachTime()
    {
        var first = await Cli.RunAsync("keys", "generate");
        var second = (await Cli.RunAsync("keys", "generate", "--json")).Json().GetProperty("key").GetString()!;

        Assert.Equal(0, first.ExitCode);
        Assert.Equal(32, Convert.FromBase64String(first.Output.Trim()).Length);
        Assert.Equal(32, Convert.FromBase64String(second).Length);
        Assert.NotEqual(first.Output.Trim(), second);
    }

    [Fact]
    public async Task AStoreCommandWithoutAStoreIsAUsageError()
    {
        var result = await Cli.RunAsync("stats");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("TESSERA_STORE", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("mysql://u:p@h/db")]
    [InlineData("postgres://u:p@h")]
    [InlineData("redis://h:6379/notanumber")]
    [InlineData("redis:h:6379,password=p,ssl=:p@")]
    [InlineData("sqlite:")]
    public async Task ABadStoreUrlIsAUsageErrorThatDoesNotEchoThePassword(string url)
    {
        var result = await Cli.RunAsync("--store", url, "stats");

        Assert.Equal(1, result.ExitCode);
        Assert.DoesNotContain(":p@", result.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnknownCommandOrOptionIsAUsageError()
    {
        Assert.Equal(1, (await Cli.RunAsync("frobnicate")).ExitCode);
        Assert.Equal(1, (await Cli.RunAsync("--store", "sqlite:x.db", "list", "--state", "sleeping")).ExitCode);
    }

    [Theory]
    [InlineData("postgres://admin:Hunter2-pg%40x@127.0.0.1:1/app", "Hunter2-pg")]
    [InlineData("redis://:Hunter2-redis@127.0.0.1:1/0", "Hunter2-redis")]
    [InlineData("rediss://:Hunter2-rediss@127.0.0.1:1/0", "Hunter2-rediss")]
    [InlineData("redis:127.0.0.1:1,connectTimeout=2000,password=Hunter2-conf", "Hunter2-conf")]
    public async Task AnUnreachableStoreIsAStoreErrorAndThePasswordIsNotPrinted(string url, string password)
    {
        var result = await Cli.RunAsync("--store", url, "stats");

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("***", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(password, result.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheStoreComesFromTesseraStoreWhenNotGiven()
    {
        var env = new Dictionary<string, string> { ["TESSERA_STORE"] = "sqlite:" + Path.Combine(_directory, "env.db") };

        var stats = (await Cli.RunAsync(env, "stats", "--json")).Json();

        Assert.Equal(0, stats.GetProperty("total").GetInt64());
        Assert.True(File.Exists(Path.Combine(_directory, "env.db")));
    }

    [Fact]
    public async Task TheBuiltToolRunsAsAProcessWithItsExitCodes()
    {
        var env = new Dictionary<string, string> { ["TESSERA_STORE"] = "sqlite:" + Path.Combine(_directory, "process.db") };

        var help = await Cli.RunProcessAsync(null, "--help");
        var migrate = await Cli.RunProcessAsync(env, "migrate");
        var stats = await Cli.RunProcessAsync(env, "stats", "--json");
        var refused = await Cli.RunProcessAsync(env, "clear");
        var missing = await Cli.RunProcessAsync(env, "show", "nope");
        var usage = await Cli.RunProcessAsync(env, "revoke");

        Assert.Equal(0, help.ExitCode);
        Assert.Contains("Exit codes", help.Output, StringComparison.Ordinal);
        Assert.True(migrate.ExitCode == 0, migrate.All);
        Assert.Equal(0, JsonDocument.Parse(stats.Output).RootElement.GetProperty("live").GetInt64());
        Assert.Equal(4, refused.ExitCode);
        Assert.Equal(2, missing.ExitCode);
        Assert.Equal(1, usage.ExitCode);
    }
}
