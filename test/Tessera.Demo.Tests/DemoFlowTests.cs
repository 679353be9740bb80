using System.Net;
using System.Text.Json;

namespace Tessera.Demo.Tests;

/// <summary>The demo's cookie-session routes over a real Kestrel server, run once per store.</summary>
public abstract class DemoFlowTests : IAsyncLifetime
{
    private DemoServer? _server;

    protected abstract string Store { get; }

    /// <summary>More arguments for the demo, such as a connection string.</summary>
    protected virtual string[] StoreArguments => [];

    private DemoServer Server => _server ?? throw new InvalidOperationException("Not started.");

    public async ValueTask InitializeAsync() => _server = await DemoServer.StartAsync(Store, extra: StoreArguments);

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    [Fact]
    public async Task SigningInShoppingFlashingCountingAndLoggingOutWorkEndToEnd()
    {
        using var client = Server.CreateClient();

        var login = await client.JsonAsync(HttpMethod.Post, "/login", new { user = "alice" });
        Assert.Equal("alice", login.GetProperty("user").GetString());
        Assert.False(string.IsNullOrEmpty(login.GetProperty("sessionId").GetString()));
        var profile = await client.JsonAsync(HttpMethod.Get, "/me");
        Assert.Equal("alice", profile.GetProperty("user").GetString());
        Assert.Equal(["customer"], Items(profile, "roles"));

        await client.JsonAsync(HttpMethod.Post, "/cart", new { item = "apple" });
        var cart = await client.JsonAsync(HttpMethod.Post, "/cart", new { item = "pear" });
        Assert.Equal(["apple", "pear"], Items(cart, "items"));
        Assert.Equal(["apple", "pear"], Items(await client.JsonAsync(HttpMethod.Get, "/cart"), "items"));

        await client.JsonAsync(HttpMethod.Post, "/flash", new { message = "saved" });
        await client.JsonAsync(HttpMethod.Post, "/flash", new { message = "twice" });
        Assert.Equal(["saved", "twice"], Items(await client.JsonAsync(HttpMethod.Get, "/flash"), "messages"));
        Assert.Empty(Items(await client.JsonAsync(HttpMethod.Get, "/flash"), "messages"));

        await client.JsonAsync(HttpMethod.Post, "/counter/visits");
        await client.JsonAsync(HttpMethod.Post, "/counter/visits");
        var clicks = await client.JsonAsync(HttpMethod.Post, "/counter/clicks");
        Assert.Equal(1, clicks.GetProperty("value").GetInt64());
        var counters = await client.JsonAsync(HttpMethod.Get, "/counters");
        Assert.Equal(2, counters.GetProperty("visits").GetInt64());
        Assert.Equal(1, counters.GetProperty("clicks").GetInt64());
        Assert.Equal(2, counters.EnumerateObject().Count());

        var signedInCookies = new Dictionary<string, string>(client.Cookies);
        using (var logout = await client.PostAsync("/logout"))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }
        Assert.Contains(client.LastSetCookies, c => c.StartsWith("tessera=;", StringComparison.Ordinal));
        Assert.Empty(client.Cookies);
        using (var me = await client.GetAsync("/me"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
        }

        // Someone who kept a copy of the cookie gets nothing: logout ended the session on the server.
        using var replay = Server.CreateClient();
        foreach (var (name, value) in signedInCookies)
        {
            replay.Cookies[name] = value;
        }
        using (var me = await replay.GetAsync("/me"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
        }
        Assert.Empty(Items(await replay.JsonAsync(HttpMethod.Get, "/cart"), "items"));
        Assert.Empty((await replay.JsonAsync(HttpMethod.Get, "/counters")).EnumerateObject());
    }

    [Fact]
    public async Task TheCartSurvivesSignInAndThePreLoginCookieStopsWorking()
    {
        using var client = Server.CreateClient();
        await client.JsonAsync(HttpMethod.Post, "/cart", new { item = "apple" });
        var anonymousCookie = client.Cookies["tessera"];

        var login = await client.JsonAsync(HttpMethod.Post, "/login", new { user = "bob" });
        Assert.NotEqual(anonymousCookie, client.Cookies["tessera"]);
        Assert.Equal(["apple"], Items(await client.JsonAsync(HttpMethod.Get, "/cart"), "items"));
        Assert.Equal("bob", (await client.JsonAsync(HttpMethod.Get, "/me")).GetProperty("user").GetString());
        Assert.False(string.IsNullOrEmpty(login.GetProperty("sessionId").GetString()));

        // A cookie planted before sign-in (session fixation) is worthless after it.
        using var planted = Server.CreateClient();
        planted.Cookies["tessera"] = anonymousCookie;
        using (var me = await planted.GetAsync("/me"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
        }
        Assert.Empty(Items(await planted.JsonAsync(HttpMethod.Get, "/cart"), "items"));
    }

    [Fact]
    public async Task SigningInTwiceKeepsTheSameSessionId()
    {
        using var client = Server.CreateClient();
        var first = await client.JsonAsync(HttpMethod.Post, "/login", new { user = "carol" });
        var second = await client.JsonAsync(HttpMethod.Post, "/login", new { user = "carol" });
        Assert.Equal(first.GetProperty("sessionId").GetString(), second.GetProperty("sessionId").GetString());
    }

    [Fact]
    public async Task MeIsUnauthorizedForAnAnonymousVisitorAndSetsNoCookie()
    {
        using var client = Server.CreateClient();
        using var response = await client.GetAsync("/me");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(client.LastSetCookies);
    }

    [Fact]
    public async Task HealthzAnswersWithoutSettingACookie()
    {
        using var client = Server.CreateClient();
        using (var anonymous = await client.GetAsync("/healthz"))
        {
            Assert.Equal(HttpStatusCode.OK, anonymous.StatusCode);
            Assert.Empty(client.LastSetCookies);
        }

        await client.JsonAsync(HttpMethod.Post, "/login", new { user = "alice" });
        using var signedIn = await client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        Assert.Empty(client.LastSetCookies);
    }

    [Fact]
    public async Task TheStaticPageIsServedWithoutSettingACookie()
    {
        using var client = Server.CreateClient();
        foreach (var path in new[] { "/", "/app.js", "/site.css" })
        {
            using var response = await client.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Empty(client.LastSetCookies);
        }
        using var page = await client.GetAsync("/");
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<script src=\"/app.js\">", html, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal); // nothing external, no CDN
    }

    [Theory]
    [InlineData("flipped")]
    [InlineData("truncated")]
    [InlineData("garbage")]
    [InlineData("oversized")]
    [InlineData("empty-signature")]
    public async Task ATamperedCookieIsAnonymousNeverAnError(string tampering)
    {
        using var client = Server.CreateClient();
        await client.JsonAsync(HttpMethod.Post, "/login", new { user = "alice" });
        var cookie = client.Cookies["tessera"];
        client.Cookies["tessera"] = tampering switch
        {
            "flipped" => cookie[..^1] + (cookie[^1] == 'A' ? 'B' : 'A'),
            "truncated" => cookie[..(cookie.Length / 2)],
            "garbage" => "not-a-credential!%00",
            "oversized" => new string('a', 3000),
            _ => cookie.Split('.')[0] + ".",
        };

        using var me = await client.GetAsync("/me");
        Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
        Assert.Empty(Items(await client.JsonAsync(HttpMethod.Get, "/cart"), "items"));
    }

    [Fact]
    public async Task AdminStatsCountsLiveSessionsOnLoopbackInDevelopment()
    {
        using var observer = Server.CreateClient();
        var before = (await observer.JsonAsync(HttpMethod.Get, "/admin/stats")).GetProperty("sessions").GetInt64();
        Assert.Empty(observer.LastSetCookies); // looking at the stats creates no session

        using var alice = Server.CreateClient();
        using var bob = Server.CreateClient();
        await alice.JsonAsync(HttpMethod.Post, "/login", new { user = "alice" });
        await bob.JsonAsync(HttpMethod.Post, "/cart", new { item = "apple" });
        Assert.Equal(before + 2, (await observer.JsonAsync(HttpMethod.Get, "/admin/stats")).GetProperty("sessions").GetInt64());

        (await alice.PostAsync("/logout")).Dispose();
        Assert.Equal(before + 1, (await observer.JsonAsync(HttpMethod.Get, "/admin/stats")).GetProperty("sessions").GetInt64());
    }

    [Theory]
    [InlineData("/login", "{\"user\":")]
    [InlineData("/login", "not json")]
    [InlineData("/login", "")]
    [InlineData("/login", "[]")]
    [InlineData("/login", "null")]
    [InlineData("/login", "{\"user\":42}")]
    [InlineData("/cart", "{\"item\":[1]}")]
    [InlineData("/cart", "{")]
    [InlineData("/flash", "{\"message\":{}}")]
    [InlineData("/flash", "\"hi\"")]
    public async Task AMalformedJsonBodyIsABadRequest(string path, string body)
    {
        using var client = Server.CreateClient();
        using var response = await client.PostRawJsonAsync(path, body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(client.LastSetCookies);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"user\":null}")]
    [InlineData("{\"user\":\"\"}")]
    [InlineData("{\"user\":\"   \"}")]
    public async Task SigningInWithoutAUserIsABadRequest(string body)
    {
        using var client = Server.CreateClient();
        using var response = await client.PostRawJsonAsync("/login", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty(client.LastSetCookies);
    }

    [Fact]
    public async Task SigningInWithATooLongUserIsABadRequest()
    {
        using var client = Server.CreateClient();
        using var response = await client.PostJsonAsync("/login", new { user = new string('a', 65) });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Contains("user", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABodyThatIsNotJsonIsRefusedWithoutASession()
    {
        using var client = Server.CreateClient();
        using var response = await client.SendAsync(HttpMethod.Post, "/login", new FormUrlEncodedContent([new("user", "mallory")]));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Empty(client.LastSetCookies);
    }

    [Fact]
    public async Task AnInvalidCounterNameIsABadRequest()
    {
        using var client = Server.CreateClient();
        using var response = await client.PostAsync("/counter/" + Uri.EscapeDataString("a b"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    private static string[] Items(JsonElement body, string property) =>
        [.. body.GetProperty(property).EnumerateArray().Select(e => e.GetString()!)];
}

public sealed class SqliteDemoFlowTests : DemoFlowTests
{
    protected override string Store => "sqlite";
}

public sealed class MemoryDemoFlowTests : DemoFlowTests
{
    protected override string Store => "memory";
}

/// <summary>The same flows on PostgreSQL, in a database of this class's own (the demo creates its tables at start-up).</summary>
public sealed class PostgresDemoFlowTests(DemoPostgresDatabase database) : DemoFlowTests, IClassFixture<DemoPostgresDatabase>
{
    protected override string Store => "postgres";

    protected override string[] StoreArguments => [$"--ConnectionStrings:Postgres={database.ConnectionString}"];
}

/// <summary>The same flows on Redis, under a key prefix of each test's own.</summary>
public sealed class RedisDemoFlowTests : DemoFlowTests
{
    protected override string Store => "redis";

    protected override string[] StoreArguments => TestRedis.Arguments("flow");
}
