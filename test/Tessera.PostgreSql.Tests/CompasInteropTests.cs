using Microsoft.Extensions.Time.Testing;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using Tessera.Testing;
using Tessera.Tokens;

namespace Tessera.PostgreSql.Tests;

/// <summary>
/// The real Compas session store (<c>@compas/store</c> 0.5.5 under Node) from this project's <c>compas-interop</c>
/// folder, copied to a scratch directory and installed with npm once per test class. No npm, no test: it fails.
/// </summary>
public sealed class CompasDriver : IAsyncLifetime
{
    private string _directory = "";

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        var source = Path.Combine(AppContext.BaseDirectory, "compas-interop");
        _directory = Directory.CreateTempSubdirectory("tessera-compas-").FullName;
        foreach (var file in Directory.GetFiles(source))
        {
            File.Copy(file, Path.Combine(_directory, Path.GetFileName(file)));
        }
        var (code, stdout, stderr) = await RunProcessAsync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], TimeSpan.FromMinutes(4));
        if (code != 0)
        {
            throw new InvalidOperationException($"npm install of the Compas driver failed ({code}); the interop tests need the npm registry.\n{stdout}\n{stderr}");
        }
    }

    /// <summary>Runs <c>node compas.mjs</c>; returns <c>value</c>, or throws with Compas's error unless <paramref name="expectError"/>.</summary>
    public async Task<JsonElement> RunAsync(string command, string connectionString, string key, string? token = null, string? data = null, bool expectError = false)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        List<string> args = ["compas.mjs", command, "--pg", $"postgres://{builder.Username}@{builder.Host}:{builder.Port}/{builder.Database}", "--key", key];
        if (token is not null)
        {
            args.Add("--token=" + token);
        }
        if (data is not null)
        {
            args.Add("--data");
            args.Add(data);
        }
        var (code, stdout, stderr) = await RunProcessAsync("node", args, TimeSpan.FromMinutes(1));
        var line = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault()
            ?? throw new InvalidOperationException($"compas.mjs {command} printed nothing ({code}): {stderr}");
        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        if (expectError)
        {
            Assert.True(root.TryGetProperty("error", out var error), $"compas.mjs {command} was expected to fail: {line}");
            return error.Clone();
        }
        Assert.True(root.TryGetProperty("value", out var value), $"compas.mjs {command} failed: {line}\n{stderr}");
        return value.Clone();
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

    private async Task<(int Code, string Stdout, string Stderr)> RunProcessAsync(string file, IEnumerable<string> args, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = _directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {timeout}.");
        }
        return (process.ExitCode, await stdout, await stderr);
    }
}

/// <summary>
/// Tessera and the real Compas on one database (made by the release notes' migration, then upgraded in place by
/// Tessera) and one signing key, with <see cref="TokenProfile.Compas"/>: each side reads, changes, refreshes and
/// revokes the other's sessions, and a refresh token reused across the two is caught as a leak.
/// </summary>
public sealed class CompasInteropTests(CompasDriver compas) : IClassFixture<CompasDriver>, IAsyncLifetime
{
    // Compas uses the key string's UTF-8 bytes as the HMAC secret; Tessera's key ring takes them as base64.
    private const string SigningKey = "tessera-and-compas-share-this-signing-key-0123456789";

    // Tessera's clock runs a minute behind real time (Compas's clock): see the last test for why.
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow - TimeSpan.FromMinutes(1));
    private string _connectionString = "";
    private NpgsqlDataSource _dataSource = null!;
    private PostgreSqlSessionStore _store = null!;
    private SessionManager _manager = null!;

    private SessionTokenService Tessera => _manager.Tokens;

    public async ValueTask InitializeAsync()
    {
        _connectionString = await PostgresServer.CreateDatabaseAsync("compas");
        await compas.RunAsync("migrate", _connectionString, SigningKey);
        _dataSource = NpgsqlDataSource.Create(_connectionString);
        _store = new PostgreSqlSessionStore(_dataSource, new PostgreSqlSessionStoreOptions(), _clock);
        await _store.EnsureSchemaAsync();
        var options = new TesseraOptions();
        options.Keys.Add(Convert.ToBase64String(Encoding.UTF8.GetBytes(SigningKey)));
        options.Tokens.Profile = TokenProfile.Compas;
        _manager = new SessionManager(_store, Options.Create(options), _clock);
    }

    public async ValueTask DisposeAsync()
    {
        await _store.DisposeAsync();
        await _dataSource.DisposeAsync();
    }

    [Fact]
    public async Task ASessionCreatedByCompasIsReadAndUpdatedByTesseraAndCompasSeesTheChange()
    {
        var pair = await compas.RunAsync("create", _connectionString, SigningKey, data: """{"userId":"alice","cart":["apple"]}""");
        var access = pair.GetProperty("accessToken").GetString()!;

        var read = await Tessera.GetAsync(access);
        Assert.True(read.Succeeded, read.Reason);
        Assert.Equal("\"alice\"", read.Value!.Data["userId"]);
        Assert.Equal(JsonSerializer.Serialize(new[] { "apple" }), Compact(read.Value.Data["cart"]));
        Assert.Null(read.Value.Subject); // Compas has no subject column: its user lives in the data

        var updated = await Tessera.UpdateAsync(access, new Dictionary<string, string> { ["userId"] = "\"alice\"", ["cart"] = """["apple","pear"]""" });
        Assert.True(updated.Succeeded && updated.Value, updated.Reason);

        var seen = await compas.RunAsync("get", _connectionString, SigningKey, token: access);
        var data = seen.GetProperty("session").GetProperty("data");
        Assert.Equal(["apple", "pear"], data.GetProperty("cart").EnumerateArray().Select(e => e.GetString()!));
        // Tessera's checksum is no crc32, so Compas's next update writes even if it happens to restore the old data.
        Assert.Equal("tessera", seen.GetProperty("session").GetProperty("checksum").GetString());

        await compas.RunAsync("update", _connectionString, SigningKey, token: access, data: """{"userId":"alice","cart":["apple"]}""");
        var again = await Tessera.GetAsync(access);
        Assert.Equal("""["apple"]""", Compact(again.Value!.Data["cart"]));
    }

    [Fact]
    public async Task ASessionCreatedByTesseraIsReadRefreshedAndInvalidatedByCompas()
    {
        var pair = await Tessera.CreateAsync("alice", new Dictionary<string, string> { ["cart"] = """["apple"]""" });

        var seen = await compas.RunAsync("get", _connectionString, SigningKey, token: pair.AccessToken);
        Assert.Equal(pair.SessionId, seen.GetProperty("session").GetProperty("id").GetString());
        Assert.Equal("apple", seen.GetProperty("session").GetProperty("data").GetProperty("cart")[0].GetString());

        var refreshed = await compas.RunAsync("refresh", _connectionString, SigningKey, token: pair.RefreshToken);
        var compasAccess = refreshed.GetProperty("accessToken").GetString()!;
        var compasRefresh = refreshed.GetProperty("refreshToken").GetString()!;

        // Compas revoked the old pair; Tessera accepts Compas's new access token for the same session.
        Assert.Equal(TokenFailure.RevokedToken, (await Tessera.GetAsync(pair.AccessToken)).Failure);
        var viaCompasToken = await Tessera.GetAsync(compasAccess);
        Assert.True(viaCompasToken.Succeeded, viaCompasToken.Reason);
        Assert.Equal("alice", viaCompasToken.Value!.Subject);
        // Compas's refresh moved Tessera's idle deadline along to its new refresh token (Compas's default: one day).
        Assert.True(viaCompasToken.Value.IdleExpiresAt > DateTimeOffset.UtcNow + TimeSpan.FromHours(23));

        // And Tessera can rotate the refresh token Compas minted.
        var tesseraRefreshed = await Tessera.RefreshAsync(compasRefresh);
        Assert.True(tesseraRefreshed.Succeeded, tesseraRefreshed.Reason);

        await compas.RunAsync("invalidate", _connectionString, SigningKey, token: tesseraRefreshed.Value!.AccessToken);
        Assert.Equal(TokenFailure.RevokedToken, (await Tessera.GetAsync(tesseraRefreshed.Value.AccessToken)).Failure);
        Assert.Equal(TokenFailure.RevokedToken, (await Tessera.RefreshAsync(tesseraRefreshed.Value.RefreshToken)).Failure);
    }

    [Fact]
    public async Task ARefreshTokenRotatedByCompasAndReusedAtTesseraIsALeak()
    {
        var first = await compas.RunAsync("create", _connectionString, SigningKey, data: """{"userId":"bob"}""");
        var oldRefresh = first.GetProperty("refreshToken").GetString()!;
        var second = await compas.RunAsync("refresh", _connectionString, SigningKey, token: oldRefresh);
        var newAccess = second.GetProperty("accessToken").GetString()!;

        // Outside every grace window by Tessera's clock, which is the one that judges here.
        _clock.Advance(TimeSpan.FromMinutes(2));
        var reuse = await Tessera.RefreshAsync(oldRefresh);

        Assert.Equal(TokenFailure.RefreshTokenReused, reuse.Failure);
        var error = await compas.RunAsync("get", _connectionString, SigningKey, token: newAccess, expectError: true);
        Assert.Equal("sessionStore.get.revokedToken", error.GetProperty("key").GetString());
    }

    [Fact]
    public async Task ARefreshTokenRotatedByTesseraAndReusedAtCompasIsALeak()
    {
        // Tessera's clock runs a minute behind real time, so its rotation is already more than Compas's 15-second grace
        // period in the past when Compas (real clock) sees the reuse: no real waiting.
        var first = await Tessera.CreateAsync("carol");
        var second = await Tessera.RefreshAsync(first.RefreshToken);
        Assert.True(second.Succeeded, second.Reason);

        var error = await compas.RunAsync("refresh", _connectionString, SigningKey, token: first.RefreshToken, expectError: true);

        Assert.Equal("sessionStore.refreshTokens.revokedToken", error.GetProperty("key").GetString());
        Assert.Equal(TokenFailure.RevokedToken, (await Tessera.GetAsync(second.Value!.AccessToken)).Failure);
        await using var command = _dataSource.CreateCommand("""SELECT count(*) FROM "job" WHERE "name" = 'compas.sessionStore.potentialLeakedSession' AND "data" -> 'report' -> 'session' ->> 'id' = $1""");
        command.Parameters.Add(new NpgsqlParameter { Value = first.SessionId });
        Assert.Equal(1L, (long)(await command.ExecuteScalarAsync())!);
    }

    private static string Compact(string json)
    {
        using var document = JsonDocument.Parse(json);
        return JsonSerializer.Serialize(document.RootElement);
    }
}
