using System.Net;
using System.Text.Json;

namespace Tessera.Demo.Tests;

/// <summary>
/// The demo's "your devices" routes (<c>GET /sessions</c>, <c>DELETE /sessions/{id}</c>,
/// <c>POST /sessions/revoke-others</c>) over a real Kestrel server, run once per store. User names carry a random
/// suffix because the PostgreSQL class shares one database between its tests.
/// </summary>
public abstract class DemoSessionsTests : IAsyncLifetime
{
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];
    private DemoServer? _server;

    protected abstract string Store { get; }

    /// <summary>More arguments for the demo, such as a connection string.</summary>
    protected virtual string[] StoreArguments => [];

    private DemoServer Server => _server ?? throw new InvalidOperationException("Not started.");

    private string Alice => "alice-" + _suffix;

    private string Bob => "bob-" + _suffix;

    public async ValueTask InitializeAsync() => _server = await DemoServer.StartAsync(Store, extra: StoreArguments);

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    [Fact]
    public async Task BothDevicesAreListedAndOneSignsTheOtherOut()
    {
        using var laptop = Server.CreateClient();
        using var phone = Server.CreateClient();
        var laptopId = await SignInAsync(laptop, Alice);
        var phoneId = await SignInAsync(phone, Alice);

        var listed = await laptop.JsonAsync(HttpMethod.Get, "/sessions");
        var rows = listed.EnumerateArray().ToList();
        Assert.Equal(2, rows.Count);
        // Oldest first, but two sign-ins in the same millisecond may list either way round.
        Assert.Equal(new[] { laptopId, phoneId }.Order(StringComparer.Ordinal), rows.Select(r => r.GetProperty("id").GetString()!).Order(StringComparer.Ordinal));
        var current = Assert.Single(rows, r => r.GetProperty("current").GetBoolean());
        Assert.Equal(laptopId, current.GetProperty("id").GetString());
        Assert.Equal(
            ["id", "current", "createdAt", "lastSeenAt", "userAgent", "ip"],
            current.EnumerateObject().Select(p => p.Name));
        Assert.Equal("tessera-demo-tests", current.GetProperty("userAgent").GetString());
        Assert.Equal("127.0.0.1", current.GetProperty("ip").GetString());
        Assert.True(current.GetProperty("createdAt").GetDateTimeOffset() <= current.GetProperty("lastSeenAt").GetDateTimeOffset());

        using (var delete = await laptop.SendAsync(HttpMethod.Delete, $"/sessions/{phoneId}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        using (var me = await phone.GetAsync("/me"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
        }
        Assert.Equal(Alice, (await laptop.JsonAsync(HttpMethod.Get, "/me")).GetProperty("user").GetString());
        Assert.Equal(laptopId, Assert.Single((await laptop.JsonAsync(HttpMethod.Get, "/sessions")).EnumerateArray()).GetProperty("id").GetString());
        using var again = await laptop.SendAsync(HttpMethod.Delete, $"/sessions/{phoneId}");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
    }

    [Fact]
    public async Task RevokingOthersKeepsThisDeviceAndSignsOutTheRestIncludingTokenClients()
    {
        using var laptop = Server.CreateClient();
        using var phone = Server.CreateClient();
        using var tablet = Server.CreateClient();
        using var api = Server.CreateClient();
        await SignInAsync(laptop, Alice);
        await SignInAsync(phone, Alice);
        await SignInAsync(tablet, Alice);
        api.AccessToken = (await api.JsonAsync(HttpMethod.Post, "/api/login", new { user = Alice })).GetProperty("accessToken").GetString();
        Assert.Equal(4, (await laptop.JsonAsync(HttpMethod.Get, "/sessions")).GetArrayLength());

        var result = await laptop.JsonAsync(HttpMethod.Post, "/sessions/revoke-others");

        Assert.Equal(3, result.GetProperty("revoked").GetInt32());
        foreach (var client in new[] { phone, tablet })
        {
            using var me = await client.GetAsync("/me");
            Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
        }
        using (var me = await api.GetAsync("/api/me"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
        }
        var left = Assert.Single((await laptop.JsonAsync(HttpMethod.Get, "/sessions")).EnumerateArray());
        Assert.True(left.GetProperty("current").GetBoolean());
    }

    [Fact]
    public async Task DeletingAnotherUsersSessionIsNotFoundAndTheyStaySignedIn()
    {
        using var alice = Server.CreateClient();
        using var bob = Server.CreateClient();
        await SignInAsync(alice, Alice);
        var bobId = await SignInAsync(bob, Bob);

        using (var delete = await alice.SendAsync(HttpMethod.Delete, $"/sessions/{bobId}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, delete.StatusCode);
        }
        using (var unknown = await alice.SendAsync(HttpMethod.Delete, $"/sessions/{Guid.NewGuid():D}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }

        Assert.Equal(Bob, (await bob.JsonAsync(HttpMethod.Get, "/me")).GetProperty("user").GetString());
        Assert.DoesNotContain(bobId, (await alice.JsonAsync(HttpMethod.Get, "/sessions")).EnumerateArray().Select(r => r.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task DeletingThisDevicesOwnSessionSignsItOutAndClearsTheCookie()
    {
        using var laptop = Server.CreateClient();
        var laptopId = await SignInAsync(laptop, Alice);

        using (var delete = await laptop.SendAsync(HttpMethod.Delete, $"/sessions/{laptopId}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        Assert.Empty(laptop.Cookies);
        using var me = await laptop.GetAsync("/me");
        Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
    }

    [Fact]
    public async Task AnAnonymousClientGetsUnauthorizedFromEverySessionsRoute()
    {
        using var client = Server.CreateClient();

        using var list = await client.GetAsync("/sessions");
        using var delete = await client.SendAsync(HttpMethod.Delete, $"/sessions/{Guid.NewGuid():D}");
        using var others = await client.PostAsync("/sessions/revoke-others");

        Assert.Equal(HttpStatusCode.Unauthorized, list.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, delete.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, others.StatusCode);
        Assert.Empty(client.Cookies);
    }

    private static async Task<string> SignInAsync(DemoClient client, string user) =>
        (await client.JsonAsync(HttpMethod.Post, "/login", new { user })).GetProperty("sessionId").GetString()!;
}

public sealed class MemoryDemoSessionsTests : DemoSessionsTests
{
    protected override string Store => "memory";
}

public sealed class SqliteDemoSessionsTests : DemoSessionsTests
{
    protected override string Store => "sqlite";
}

/// <summary>The same routes on PostgreSQL, in a database of this class's own.</summary>
public sealed class PostgresDemoSessionsTests(DemoPostgresDatabase database) : DemoSessionsTests, IClassFixture<DemoPostgresDatabase>
{
    protected override string Store => "postgres";

    protected override string[] StoreArguments => [$"--ConnectionStrings:Postgres={database.ConnectionString}"];
}

/// <summary>The same routes on Redis, under a key prefix of each test's own.</summary>
public sealed class RedisDemoSessionsTests : DemoSessionsTests
{
    protected override string Store => "redis";

    protected override string[] StoreArguments => TestRedis.Arguments("sessions");
}
