using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Options;

namespace Tessera.Demo.Tests;

/// <summary>How the demo starts: environments, cookies, keys and stores.</summary>
public sealed class DemoStartupTests
{
    [Fact]
    public async Task InDevelopmentOverHttpTheCookieIsNamedTesseraHttpOnlyLaxAndPathRoot()
    {
        await using var server = await DemoServer.StartAsync();
        using var client = server.CreateClient();
        await client.JsonAsync(HttpMethod.Post, "/login", new { user = "alice" });

        var setCookie = Assert.Single(client.LastSetCookies);
        var attributes = Attributes(setCookie);
        Assert.StartsWith("tessera=", setCookie, StringComparison.Ordinal);
        Assert.Contains("httponly", attributes);
        Assert.Contains("samesite=lax", attributes);
        Assert.Contains("path=/", attributes);
        Assert.DoesNotContain("secure", attributes);
        Assert.DoesNotContain(attributes, a => a.StartsWith("expires=", StringComparison.Ordinal) || a.StartsWith("domain=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task InProductionTheCookieIsHostPrefixedAndSecure()
    {
        await using var server = await DemoServer.StartAsync(environment: "Production", extra: $"--Tessera:Keys:0={SigningKeyRing.GenerateBase64Key()}");
        using var client = server.CreateClient();
        await client.JsonAsync(HttpMethod.Post, "/login", new { user = "alice" });

        var setCookie = Assert.Single(client.LastSetCookies);
        var attributes = Attributes(setCookie);
        Assert.StartsWith("__Host-tessera=", setCookie, StringComparison.Ordinal);
        Assert.Contains("secure", attributes);
        Assert.Contains("httponly", attributes);
        Assert.Contains("samesite=lax", attributes);
        Assert.Contains("path=/", attributes);
        Assert.Equal("alice", (await client.JsonAsync(HttpMethod.Get, "/me")).GetProperty("user").GetString());
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "dev-signing-key")));
    }

    [Fact]
    public async Task InProductionAdminStatsIsNotFound()
    {
        await using var server = await DemoServer.StartAsync(environment: "Production", extra: $"--Tessera:Keys:0={SigningKeyRing.GenerateBase64Key()}");
        using var client = server.CreateClient();
        using var response = await client.GetAsync("/admin/stats");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public void ProductionWithoutAKeyFailsAtStartWithAClearMessage()
    {
        using var data = new TempDirectory();
        var failure = Assert.Throws<OptionsValidationException>(() => DemoApp.Build(DemoServer.Arguments("memory", "Production", data.Path)));
        Assert.Contains("Tessera:Keys is empty", failure.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(data.Path, "dev-signing-key")));
    }

    [Fact]
    public async Task ProductionWithoutAKeyPrintsOneClearLineAndExitsWithOne()
    {
        using var data = new TempDirectory();
        var (exitCode, output, error) = await RunDemoProcessAsync(DemoServer.Arguments("memory", "Production", data.Path), untilOutput: null);
        Assert.Equal(1, exitCode);
        Assert.Contains("Tessera demo cannot start: ", error, StringComparison.Ordinal);
        Assert.Contains("Tessera:Keys is empty", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error + output, StringComparison.Ordinal); // no stack trace
    }

    [Fact]
    public void AProductionKeyThatIsTooShortFailsAtStartWithoutShowingTheKey()
    {
        using var data = new TempDirectory();
        var shortKey = Convert.ToBase64String(new byte[16]);
        var failure = Assert.Throws<OptionsValidationException>(() => DemoApp.Build(DemoServer.Arguments("memory", "Production", data.Path, $"--Tessera:Keys:0={shortKey}")));
        Assert.Contains("at least 32 bytes", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(shortKey, failure.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("mongodb")]
    [InlineData("sql")]
    public void AnUnknownStoreFailsAtStartNamingTheChoices(string store)
    {
        using var data = new TempDirectory();
        var failure = Assert.Throws<DemoConfigurationException>(() => DemoApp.Build(DemoServer.Arguments(store, "Development", data.Path)));
        Assert.Contains($"Tessera:Store is '{store}'", failure.Message, StringComparison.Ordinal);
        Assert.Contains("sqlite, memory", failure.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("memory")]
    public void TheNearCacheOnALocalStoreFailsAtStartSayingWhichStoresTakeIt(string store)
    {
        using var data = new TempDirectory();
        var failure = Assert.Throws<DemoConfigurationException>(() => DemoApp.Build(DemoServer.Arguments(
            store, "Development", data.Path, "--Tessera:NearCache:Enabled=true")));
        Assert.Contains("Tessera:NearCache:Enabled=true needs a shared store (postgres or redis)", failure.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Tessera:NearCache:Enabled=yes", "Tessera:NearCache:Enabled is 'yes'")]
    [InlineData("--Tessera:NearCache:MaxStalenessSeconds=0", "Tessera:NearCache:MaxStalenessSeconds is '0'")]
    [InlineData("--Tessera:NearCache:MaxStalenessSeconds=301", "Tessera:NearCache:MaxStalenessSeconds is '301'")]
    public void ABadNearCacheSettingFailsAtStartNamingIt(string argument, string expected)
    {
        using var data = new TempDirectory();
        var failure = Assert.Throws<DemoConfigurationException>(() => DemoApp.Build(DemoServer.Arguments("sqlite", "Development", data.Path, argument)));
        Assert.Contains(expected, failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PostgresWithoutAConnectionStringFailsAtStartSayingWhatToSet()
    {
        using var data = new TempDirectory();
        var failure = Assert.Throws<DemoConfigurationException>(() => DemoApp.Build(DemoServer.Arguments("postgres", "Development", data.Path)));
        Assert.Contains("ConnectionStrings:Postgres", failure.Message, StringComparison.Ordinal);
        Assert.Contains("ConnectionStrings__Postgres", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void APostgresConnectionStringNpgsqlCannotParseFailsAtStartWithoutShowingIt()
    {
        using var data = new TempDirectory();
        var failure = Assert.Throws<DemoConfigurationException>(() => DemoApp.Build(DemoServer.Arguments(
            "postgres", "Development", data.Path, "--ConnectionStrings:Postgres=Hots=db;Password=hunter2-secret")));
        Assert.Contains("not a valid Npgsql connection string", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2-secret", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnreachablePostgresPrintsOneClearLineWithoutThePasswordAndExitsWithOne()
    {
        using var data = new TempDirectory();
        int closedPort;
        using (var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            closedPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        var args = DemoServer.Arguments("postgres", "Development", data.Path,
            $"--ConnectionStrings:Postgres=Host=127.0.0.1;Port={closedPort};Username=app;Password=hunter2-secret;Timeout=5");
        var (exitCode, output, error) = await RunDemoProcessAsync(args, untilOutput: null);
        Assert.Equal(1, exitCode);
        Assert.Contains("Tessera demo cannot start: PostgreSQL (ConnectionStrings:Postgres) could not be reached", error, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{closedPort}", error, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2-secret", error + output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error + output, StringComparison.Ordinal); // no stack trace
    }

    [Fact]
    public void RedisWithoutAConnectionStringFailsAtStartSayingWhatToSet()
    {
        using var data = new TempDirectory();
        var failure = Assert.Throws<DemoConfigurationException>(() => DemoApp.Build(DemoServer.Arguments("redis", "Development", data.Path)));
        Assert.Contains("ConnectionStrings:Redis", failure.Message, StringComparison.Ordinal);
        Assert.Contains("ConnectionStrings__Redis", failure.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1:{0},password=hunter2-secret")]
    [InlineData("password=hunter2-secret,127.0.0.1:{0},abortConnect=true")] // options may come first in a configuration string
    [InlineData("127.0.0.1:{0},localhost:{0},ssl=true,user=app,password=hunter2-secret,connectTimeout=2000")]
    public async Task AnUnreachableRedisPrintsOneClearLineNamingItsEndpointAndExitsWithOne(string connectionString)
    {
        using var data = new TempDirectory();
        int closedPort;
        using (var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            closedPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        var setting = string.Format(System.Globalization.CultureInfo.InvariantCulture, connectionString, closedPort);
        // Information too, so the start-up line that describes the store is printed and checked.
        var args = DemoServer.Arguments("redis", "Development", data.Path, $"--ConnectionStrings:Redis={setting}", "--Logging:LogLevel:Default=Information");
        var (exitCode, output, error) = await RunDemoProcessAsync(args, untilOutput: null);
        Assert.Equal(1, exitCode);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("Tessera demo cannot start: Redis (ConnectionStrings:Redis) could not be used", line, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{closedPort}", line, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2-secret", error + output, StringComparison.Ordinal);
        // No stack trace in what the demo prints; the store's own warning in the log (event 4103) carries its exception.
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1:6379,password=hunter2-secret,ssl=hunter2-secret")] // the parser quotes a bad value
    [InlineData("127.0.0.1:6379,password=hunter2-secret,commandTimeout=5000")] // the old client's option, unknown here
    [InlineData("password=hunter2-secret")] // no endpoint
    public void AMalformedRedisConfigurationStringFailsAtStartNamingTheSettingButNotThePassword(string connectionString)
    {
        using var data = new TempDirectory();
        var failure = Assert.Throws<DemoConfigurationException>(() =>
            DemoApp.Build(DemoServer.Arguments("redis", "Development", data.Path, $"--ConnectionStrings:Redis={connectionString}")));
        Assert.Contains("ConnectionStrings:Redis", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2-secret", failure.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cache:6379,password=x", "cache:6379")]
    [InlineData("password=x,10.0.0.1:7000,10.0.0.2:7001", "10.0.0.1:7000,10.0.0.2:7001")]
    [InlineData("cache.example:6380,ssl=true,password=x", "cache.example:6380 over TLS")]
    [InlineData("s1:26379,s2:26379,serviceName=mymaster", "s1:26379,s2:26379 (Sentinel service mymaster)")]
    [InlineData("ssl=maybe,password=x", "(ConnectionStrings:Redis)")]
    public void TheRedisStoreIsDescribedByItsEndpointsAlone(string connectionString, string described)
    {
        Assert.Equal(described, DemoStores.DescribeRedis(connectionString));
    }

    [Theory]
    [InlineData("postgres", "Timeout=3", "")] // Npgsql's own connect timeout ends the wait
    [InlineData("postgres", "Timeout=0", "--Demo:StoreStartupTimeoutSeconds=3")] // no client timeout: the start-up deadline does
    [InlineData("redis", "", "")] // StackExchange.Redis's connect timeout (5 s) ends the wait
    [InlineData("redis", "password=hunter2-secret", "")] // the same, waiting for the answer to AUTH
    [InlineData("redis", "connectTimeout=600000,syncTimeout=600000,asyncTimeout=600000", "--Demo:StoreStartupTimeoutSeconds=3")]
    public async Task AStoreThatAcceptsConnectionsButNeverAnswersPrintsOneLineNamingItAndExitsWithOne(string store, string option, string extra)
    {
        using var data = new TempDirectory();
        using var silent = new SilentServer();
        var connection = store == "postgres"
            ? $"--ConnectionStrings:Postgres=Host=127.0.0.1;Port={silent.Port};Username=app;Password=hunter2-secret;Database=app;{option}"
            : $"--ConnectionStrings:Redis=127.0.0.1:{silent.Port}" + (option.Length == 0 ? "" : "," + option);
        var args = DemoServer.Arguments(store, "Development", data.Path, [connection, .. extra.Length == 0 ? Array.Empty<string>() : [extra]]);

        var (exitCode, output, error) = await RunDemoProcessAsync(args, untilOutput: null);

        Assert.Equal(1, exitCode);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("Tessera demo cannot start: ", line, StringComparison.Ordinal);
        Assert.Contains(store == "postgres" ? "ConnectionStrings:Postgres" : "ConnectionStrings:Redis", line, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{silent.Port}", line, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2-secret", error + output, StringComparison.Ordinal);
        // No stack trace in what the demo prints; the Redis store's own warning in the log (event 4103) carries its exception.
        Assert.DoesNotContain("   at ", store == "postgres" ? error + output : error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheStoreNameIsCaseInsensitive()
    {
        await using var server = await DemoServer.StartAsync(store: "Memory");
        using var client = server.CreateClient();
        await client.JsonAsync(HttpMethod.Post, "/login", new { user = "alice" });
        Assert.Equal("alice", (await client.JsonAsync(HttpMethod.Get, "/me")).GetProperty("user").GetString());
    }

    [Fact]
    public async Task TheDevelopmentKeyIsCreatedOnceOwnerOnlyAndReusedSoCookiesSurviveARestart()
    {
        using var data = new TempDirectory();
        var keyFile = Path.Combine(data.Path, "dev-signing-key");
        Dictionary<string, string> cookies;
        string firstKey;
        await using (var first = await DemoServer.StartAsync(store: "sqlite", dataDirectory: data.Path))
        {
            Assert.True(File.Exists(keyFile));
            firstKey = File.ReadAllText(keyFile).Trim();
            Assert.Equal(32, Convert.FromBase64String(firstKey).Length);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
            }
            using var client = first.CreateClient();
            await client.JsonAsync(HttpMethod.Post, "/login", new { user = "alice" });
            await client.JsonAsync(HttpMethod.Post, "/cart", new { item = "apple" });
            cookies = new Dictionary<string, string>(client.Cookies);
        }

        await using (var second = await DemoServer.StartAsync(store: "sqlite", dataDirectory: data.Path))
        {
            Assert.Equal(firstKey, File.ReadAllText(keyFile).Trim());
            using var client = second.CreateClient();
            foreach (var (name, value) in cookies)
            {
                client.Cookies[name] = value;
            }
            Assert.Equal("alice", (await client.JsonAsync(HttpMethod.Get, "/me")).GetProperty("user").GetString());
            Assert.Equal("apple", (await client.JsonAsync(HttpMethod.Get, "/cart")).GetProperty("items")[0].GetString());
        }
    }

    [Fact]
    public async Task ACookieSignedWithARetiredKeyWorksWhileTheKeyIsStillListed()
    {
        using var data = new TempDirectory();
        var oldKey = SigningKeyRing.GenerateBase64Key();
        var newKey = SigningKeyRing.GenerateBase64Key();
        Dictionary<string, string> cookies;
        await using (var before = await DemoServer.StartAsync("sqlite", "Production", data.Path, $"--Tessera:Keys:0={oldKey}"))
        {
            using var client = before.CreateClient();
            await client.JsonAsync(HttpMethod.Post, "/login", new { user = "alice" });
            cookies = new Dictionary<string, string>(client.Cookies);
        }

        // One comma-separated value (as a single environment variable would give): the new key signs, the old one verifies.
        await using var after = await DemoServer.StartAsync("sqlite", "Production", data.Path, $"--Tessera:Keys={newKey},{oldKey}");
        using var returning = after.CreateClient();
        foreach (var (name, value) in cookies)
        {
            returning.Cookies[name] = value;
        }
        Assert.Equal("alice", (await returning.JsonAsync(HttpMethod.Get, "/me")).GetProperty("user").GetString());
        Assert.False(File.Exists(Path.Combine(data.Path, "dev-signing-key")));
    }

    [Fact]
    public async Task AConfiguredKeyIsUsedInsteadOfADevelopmentKey()
    {
        using var data = new TempDirectory();
        await using var server = await DemoServer.StartAsync(dataDirectory: data.Path, extra: $"--Tessera:Keys:0={SigningKeyRing.GenerateBase64Key()}");
        Assert.False(File.Exists(Path.Combine(data.Path, "dev-signing-key")));
    }

    [Fact]
    public async Task TheDevelopmentKeyLogLineSaysWhereTheKeyIsButNeverTheKey()
    {
        using var data = new TempDirectory();
        var args = DemoServer.Arguments("memory", "Development", data.Path, "--Logging:LogLevel:Tessera.Demo=Information");
        var (_, generated, _) = await RunDemoProcessAsync(args, untilOutput: "Tessera demo starting in");
        var keyFile = Path.Combine(data.Path, "dev-signing-key");
        var key = File.ReadAllText(keyFile).Trim();
        Assert.Contains($"Development signing key generated and saved to {keyFile}", generated, StringComparison.Ordinal);
        Assert.DoesNotContain(key, generated, StringComparison.Ordinal);

        var (_, loaded, _) = await RunDemoProcessAsync(args, untilOutput: "Tessera demo starting in");
        Assert.Contains($"Development signing key loaded from {keyFile}", loaded, StringComparison.Ordinal);
        Assert.DoesNotContain(key, loaded, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutAnEnvironmentTheDemoRunsInDevelopment()
    {
        using var data = new TempDirectory();
        // As `dotnet run --no-launch-profile` would: no --environment argument and no environment variable.
        string[] args =
        [
            "--urls", "http://127.0.0.1:0", $"--Demo:DataDirectory={data.Path}", "--Tessera:Store=memory",
            "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Tessera.Demo=Information",
        ];
        var (_, output, _) = await RunDemoProcessAsync(args, untilOutput: "Tessera demo starting in");
        Assert.Contains("Tessera demo starting in Development", output, StringComparison.Ordinal);
        Assert.Contains("Neither ASPNETCORE_ENVIRONMENT nor DOTNET_ENVIRONMENT is set, so the demo runs in Development", output, StringComparison.Ordinal);
        Assert.Contains("set ASPNETCORE_ENVIRONMENT=Production", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnEnvironmentChosenOnPurposeIsNotCalledADefault()
    {
        using var data = new TempDirectory();
        string[] args =
        [
            "--environment", "Development", "--urls", "http://127.0.0.1:0", $"--Demo:DataDirectory={data.Path}", "--Tessera:Store=memory",
            "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Tessera.Demo=Information",
        ];
        var (_, output, _) = await RunDemoProcessAsync(args, untilOutput: "Tessera demo starting in");
        Assert.Contains("Tessera demo starting in Development", output, StringComparison.Ordinal);
        Assert.DoesNotContain("ASPNETCORE_ENVIRONMENT", output, StringComparison.Ordinal);
    }

    private static string[] Attributes(string setCookie) =>
        [.. setCookie.Split(';', StringSplitOptions.TrimEntries).Skip(1).Select(a => a.ToLowerInvariant())];

    /// <summary>
    /// Runs the built demo as its own process (Program.cs included), until it exits or prints <paramref name="untilOutput"/>,
    /// then stops it.
    /// </summary>
    private static async Task<(int? ExitCode, string Output, string Error)> RunDemoProcessAsync(
        string[] args, string? untilOutput)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Tessera.Demo.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        // The demo decides its environment and address from its arguments alone, as on a fresh machine.
        start.Environment.Remove("ASPNETCORE_ENVIRONMENT");
        start.Environment.Remove("DOTNET_ENVIRONMENT");
        start.Environment.Remove("ASPNETCORE_URLS");
        using var process = Process.Start(start)!;
        var output = new System.Text.StringBuilder();
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }
            lock (output)
            {
                output.AppendLine(e.Data);
            }
            if (untilOutput is not null && e.Data.Contains(untilOutput, StringComparison.Ordinal))
            {
                seen.TrySetResult();
            }
        };
        process.BeginOutputReadLine();
        var error = process.StandardError.ReadToEndAsync();
        var exited = process.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var finished = await Task.WhenAny(seen.Task, exited, Task.Delay(Timeout.Infinite, timeout.Token));
        int? exitCode = null;
        if (finished == exited)
        {
            await process.WaitForExitAsync();
            exitCode = process.ExitCode;
        }
        else
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.True(finished == seen.Task, $"The demo neither exited nor printed '{untilOutput}' within 60 seconds: {output}");
        }
        var errorText = await error;
        lock (output)
        {
            return (exitCode, output.ToString(), errorText);
        }
    }
}
