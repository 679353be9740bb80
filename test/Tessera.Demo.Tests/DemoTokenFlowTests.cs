using Microsoft.Extensions.Time.Testing;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Testing;

namespace Tessera.Demo.Tests;

/// <summary>The demo's token-session routes (<c>/api/...</c>) over a real Kestrel server, run once per store.</summary>
public abstract class DemoTokenFlowTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private DemoServer? _server;

    protected abstract string Store { get; }

    /// <summary>More arguments for the demo, such as a connection string.</summary>
    protected virtual string[] StoreArguments => [];

    private DemoServer Server => _server ?? throw new InvalidOperationException("Not started.");

    public async ValueTask InitializeAsync() => _server = await DemoServer.StartWithClockAsync(Store, _clock, extra: StoreArguments);

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    [Fact]
    public async Task SigningInReadingTheCartRefreshingAndLoggingOutWorkOverTokens()
    {
        using var client = Server.CreateClient();

        var first = await LoginAsync(client, "alice");
        Assert.Empty(client.LastSetCookies);
        client.AccessToken = first.Access;
        var me = await client.JsonAsync(HttpMethod.Get, "/api/me");
        Assert.Equal("alice", me.GetProperty("user").GetString());
        Assert.Equal(["customer"], me.GetProperty("roles").EnumerateArray().Select(role => role.GetString()));

        await client.JsonAsync(HttpMethod.Post, "/api/cart", new { item = "apple" });
        Assert.Equal(["apple", "pear"], Items(await client.JsonAsync(HttpMethod.Post, "/api/cart", new { item = "pear" })));
        Assert.Equal(["apple", "pear"], Items(await client.JsonAsync(HttpMethod.Get, "/api/cart")));
        Assert.Empty(client.LastSetCookies);

        client.AccessToken = null;
        var second = await RefreshAsync(client, first.Refresh);
        Assert.NotEqual(first.Access, second.Access);
        client.AccessToken = second.Access;
        Assert.Equal("alice", (await client.JsonAsync(HttpMethod.Get, "/api/me")).GetProperty("user").GetString());
        Assert.Equal(["apple", "pear"], Items(await client.JsonAsync(HttpMethod.Get, "/api/cart")));
        client.AccessToken = first.Access;
        await AssertRejectedAsync(client, "/api/me", "revoked_token");

        client.AccessToken = second.Access;
        using (var logout = await client.PostAsync("/api/logout"))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
            Assert.Empty(client.LastSetCookies);
        }
        await AssertRejectedAsync(client, "/api/me", "revoked_token");
        await AssertRejectedAsync(client, "/api/cart", "revoked_token");
        client.AccessToken = null;
        using var refresh = await client.PostJsonAsync("/api/refresh", new { refreshToken = second.Refresh });
        Assert.Equal(HttpStatusCode.Unauthorized, refresh.StatusCode);
    }

    [Fact]
    public async Task ReusingARotatedRefreshTokenRevokesTheSession()
    {
        using var client = Server.CreateClient();
        var first = await LoginAsync(client, "alice");
        var second = await RefreshAsync(client, first.Refresh);

        // Past the grace window a second use of the old refresh token is a leak: the whole session ends.
        _clock.Advance(TimeSpan.FromSeconds(10));
        using (var reuse = await client.PostJsonAsync("/api/refresh", new { refreshToken = first.Refresh }))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, reuse.StatusCode);
            Assert.Equal("Bearer error=\"invalid_token\", error_description=\"refresh_token_reused\"", Challenge(reuse));
            var problem = JsonDocument.Parse(await reuse.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("refresh_token_reused", problem.GetProperty("reason").GetString());
        }

        client.AccessToken = second.Access;
        await AssertRejectedAsync(client, "/api/me", "revoked_token");
        client.AccessToken = null;
        using var refresh = await client.PostJsonAsync("/api/refresh", new { refreshToken = second.Refresh });
        Assert.Equal(HttpStatusCode.Unauthorized, refresh.StatusCode);
    }

    [Fact]
    public async Task AnExpiredAccessTokenIsRejectedAndTheRefreshTokenStillWorks()
    {
        using var client = Server.CreateClient();
        var first = await LoginAsync(client, "alice");

        _clock.Advance(TimeSpan.FromMinutes(6));
        client.AccessToken = first.Access;
        await AssertRejectedAsync(client, "/api/me", "expired_token");

        client.AccessToken = null;
        var second = await RefreshAsync(client, first.Refresh);
        client.AccessToken = second.Access;
        Assert.Equal("alice", (await client.JsonAsync(HttpMethod.Get, "/api/me")).GetProperty("user").GetString());
    }

    [Fact]
    public async Task MissingAndMalformedTokensAre401sWithABearerChallenge()
    {
        using var client = Server.CreateClient();
        foreach (var path in new[] { "/api/me", "/api/cart" })
        {
            using var response = await client.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer", Challenge(response));
        }
        client.AccessToken = "not-a-token";
        await AssertRejectedAsync(client, "/api/me", "invalid_token");
        using (var post = await client.PostJsonAsync("/api/cart", new { item = "apple" }))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, post.StatusCode);
        }
        using (var logout = await client.PostAsync("/api/logout"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, logout.StatusCode);
            Assert.Equal("Bearer error=\"invalid_token\", error_description=\"invalid_token\"", Challenge(logout));
        }
    }

    [Fact]
    public async Task BadBodiesAreBadRequestsNeverServerErrors()
    {
        using var client = Server.CreateClient();
        foreach (var path in new[] { "/api/login", "/api/refresh" })
        {
            foreach (var body in new[] { "{", "[]", "{\"user\":42,\"refreshToken\":42}", "{}" })
            {
                using var response = await client.PostRawJsonAsync(path, body);
                Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{path} {body}: {(int)response.StatusCode}");
            }
        }
    }

    [Fact]
    public async Task TheTokenCartIsTheSameDataModelAsTheCookieCartAndTheSessionRecordsItsClient()
    {
        using var tokenClient = Server.CreateClient();
        var pair = await LoginAsync(tokenClient, "alice");
        tokenClient.AccessToken = pair.Access;
        await tokenClient.JsonAsync(HttpMethod.Post, "/api/cart", new { item = "apple" });

        using var cookieClient = Server.CreateClient();
        var sessionId = (await cookieClient.JsonAsync(HttpMethod.Post, "/login", new { user = "alice" })).GetProperty("sessionId").GetString()!;
        await cookieClient.JsonAsync(HttpMethod.Post, "/cart", new { item = "apple" });

        var manager = Server.Services.GetRequiredService<SessionManager>();
        var tokenSession = (await manager.Tokens.GetAsync(pair.Access)).Value!;
        var cookieSession = (await manager.Store.LoadAsync(sessionId))!;
        Assert.Equal("[\"apple\"]", tokenSession.Data["cart"]);
        Assert.Equal(cookieSession.Data["cart"], tokenSession.Data["cart"]);
        Assert.Equal("alice", tokenSession.Subject);
        Assert.Equal("tessera-demo-tests", tokenSession.Metadata.UserAgent);
        Assert.Equal("127.0.0.1", tokenSession.Metadata.IpAddress);
    }

    private static async Task<(string Access, string Refresh)> LoginAsync(DemoClient client, string user)
    {
        using var response = await client.PostJsonAsync("/api/login", new { user });
        return await ReadPairAsync(response);
    }

    private static async Task<(string Access, string Refresh)> RefreshAsync(DemoClient client, string refreshToken)
    {
        using var response = await client.PostJsonAsync("/api/refresh", new { refreshToken });
        return await ReadPairAsync(response);
    }

    private static async Task<(string Access, string Refresh)> ReadPairAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        var body = JsonDocument.Parse(text).RootElement;
        Assert.True(body.GetProperty("accessTokenExpiresAt").GetDateTimeOffset() < body.GetProperty("refreshTokenExpiresAt").GetDateTimeOffset());
        return (body.GetProperty("accessToken").GetString()!, body.GetProperty("refreshToken").GetString()!);
    }

    private static async Task AssertRejectedAsync(DemoClient client, string path, string reason)
    {
        using var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal($"Bearer error=\"invalid_token\", error_description=\"{reason}\"", Challenge(response));
    }

    private static string Challenge(HttpResponseMessage response) =>
        response.Headers.NonValidated.TryGetValues("WWW-Authenticate", out var values) ? string.Join(", ", values) : string.Empty;

    private static string[] Items(JsonElement body) =>
        [.. body.GetProperty("items").EnumerateArray().Select(e => e.GetString()!)];
}

public sealed class SqliteDemoTokenFlowTests : DemoTokenFlowTests
{
    protected override string Store => "sqlite";
}

public sealed class MemoryDemoTokenFlowTests : DemoTokenFlowTests
{
    protected override string Store => "memory";
}

/// <summary>The same token flows on PostgreSQL, in a database of this class's own.</summary>
public sealed class PostgresDemoTokenFlowTests(DemoPostgresDatabase database) : DemoTokenFlowTests, IClassFixture<DemoPostgresDatabase>
{
    protected override string Store => "postgres";

    protected override string[] StoreArguments => [$"--ConnectionStrings:Postgres={database.ConnectionString}"];
}

/// <summary>The same token flows on Redis, under a key prefix of each test's own.</summary>
public sealed class RedisDemoTokenFlowTests : DemoTokenFlowTests
{
    protected override string Store => "redis";

    protected override string[] StoreArguments => TestRedis.Arguments("tokens");
}
