using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Testing;

namespace Tessera.AspNetCore.Tests.Realtime;

/// <summary>
/// Sessions in SignalR hubs on a real Kestrel server with the real SignalR .NET client: a hub invocation reads and
/// writes the caller's session like an HTTP request (cookie and token), commits per key, touches the session, refuses
/// what it cannot deliver, and sees the session's principal.
/// </summary>
[Collection(nameof(HubGateCollection))]
public sealed class HubSessionTests : HttpConformanceTestBase<InMemoryStoreKit>
{
    protected override void ConfigureServices(IServiceCollection services)
    {
        base.ConfigureServices(services);
        HubApp.ConfigureServices(services, _hubOptions);
    }

    private Task<TesseraTestServer> StartAsync() =>
        StartTestServerAsync(Store, configure: null, mapExtraRoutes: HubApp.Map, bearerTokens: true, authentication: true);

    internal static string CookieHeader(CookieClient client) =>
        string.Join("; ", client.SaveCookies().Select(c => $"{c.Key}={c.Value}"));

    [Fact]
    public async Task AHubMethodReadsTheCookieSessionAndWhatItWritesReachesTheNextHttpRequest()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/color/blue");
        await using var hub = await HubApp.StartAsync(server.Address, HubApp.SessionHubPath, cookie: CookieHeader(client));

        Assert.Equal("blue", await hub.InvokeAsync<string>("Read", "color", TestContext.Current.CancellationToken));
        await hub.InvokeAsync("Write", "size", "large", TestContext.Current.CancellationToken);

        Assert.Equal("large", await client.GetStringAsync("/read/size"));
        Assert.Equal("blue", await client.GetStringAsync("/read/color"));
    }

    [Fact]
    public async Task AHubAndAnHttpRequestChangingDifferentKeysAtOnceBothKeepTheirChanges()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/start/1");
        await using var hub = await HubApp.StartAsync(server.Address, HubApp.SessionHubPath, cookie: CookieHeader(client));
        SessionHub.Gate.Reset();

        // The hub method has loaded the session and waits; an HTTP request changes another key and commits meanwhile.
        var hubWrite = hub.InvokeAsync("WriteWhenReleased", "from-hub", "h", TestContext.Current.CancellationToken);
        await SessionHub.Gate.Entered.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        await client.PostAsync("/set/from-http/x");
        SessionHub.Gate.Release();
        await hubWrite;

        Assert.Equal("h", await client.GetStringAsync("/read/from-hub"));
        Assert.Equal("x", await client.GetStringAsync("/read/from-http"));
        // The next invocation loads the session afresh: it sees the HTTP request's key.
        Assert.Equal("x", await hub.InvokeAsync<string>("Read", "from-http", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task ATokenClientReadsAndWritesItsSessionOverTheConnectionTicketTheNegotiateResponseGave()
    {
        var server = await StartAsync();
        var pair = await server.Manager.Tokens.CreateAsync("alice", new Dictionary<string, string> { ["color"] = "\"green\"" }, cancellationToken: TestContext.Current.CancellationToken);
        await using var hub = await HubApp.StartAsync(server.Address, HubApp.SessionHubPath, accessToken: pair.AccessToken);

        Assert.Equal("green", await hub.InvokeAsync<string>("Read", "color", TestContext.Current.CancellationToken));
        await hub.InvokeAsync("Write", "size", "small", TestContext.Current.CancellationToken);
        Assert.StartsWith("alice|", await hub.InvokeAsync<string>("Who", TestContext.Current.CancellationToken), StringComparison.Ordinal);

        using var http = new HttpClient { BaseAddress = server.Address };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", pair.AccessToken);
        Assert.Equal("small", await http.GetStringAsync("/read/size", TestContext.Current.CancellationToken));
        // The WebSocket request carried the ticket, never the access token.
        Assert.DoesNotContain(server.Logs.GetSnapshot(), r => r.Message.Contains(pair.AccessToken, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ANegotiateTicketOpensExactlyOneWebSocketFromTheQueryStringAndOnlyWebSocketsAreOffered()
    {
        var server = await StartAsync();
        var pair = await server.Manager.Tokens.CreateAsync("alice", cancellationToken: TestContext.Current.CancellationToken);
        var (ticket, connectionToken, transports) = await NegotiateAsync(server, pair.AccessToken);

        Assert.StartsWith("tct_", ticket, StringComparison.Ordinal);
        Assert.Equal(["WebSockets"], transports);
        using var first = await ConnectWebSocketAsync(server, $"{HubApp.SessionHubPath}?id={connectionToken}&access_token={ticket}");
        Assert.Equal(WebSocketState.Open, first.Socket.State);

        var (_, secondToken, _) = await NegotiateAsync(server, pair.AccessToken);
        using var replay = await ConnectWebSocketAsync(server, $"{HubApp.SessionHubPath}?id={secondToken}&access_token={ticket}");
        Assert.Equal(HttpStatusCode.Unauthorized, replay.Status);
    }

    [Fact]
    public async Task ATicketIsRefusedOnceItsLifetimeHasPassed()
    {
        var server = await StartAsync();
        var pair = await server.Manager.Tokens.CreateAsync("alice", cancellationToken: TestContext.Current.CancellationToken);
        var (ticket, connectionToken, _) = await NegotiateAsync(server, pair.AccessToken);

        Clock.Advance(TesseraHubDefaults.ConnectionTicketLifetime + TimeSpan.FromSeconds(1));

        using var late = await ConnectWebSocketAsync(server, $"{HubApp.SessionHubPath}?id={connectionToken}&access_token={ticket}");
        Assert.Equal(HttpStatusCode.Unauthorized, late.Status);
    }

    [Fact]
    public async Task AnAccessTokenInAHubQueryStringIsRefusedUnlessTheAppAllowsIt()
    {
        var server = await StartAsync();
        var pair = await server.Manager.Tokens.CreateAsync("alice", cancellationToken: TestContext.Current.CancellationToken);

        using var refused = await ConnectWebSocketAsync(server, $"{HubApp.SessionHubPath}?access_token={pair.AccessToken}");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);

        _hubOptions = options => options.AllowAccessTokenInQueryString = true;
        var allowing = await StartAsync();
        var allowedPair = await allowing.Manager.Tokens.CreateAsync("alice", cancellationToken: TestContext.Current.CancellationToken);
        using var allowed = await ConnectWebSocketAsync(allowing, $"{HubApp.SessionHubPath}?access_token={allowedPair.AccessToken}");
        Assert.Equal(WebSocketState.Open, allowed.Socket.State);
    }

    [Fact]
    public async Task AHubMethodCannotSignInOrStartASessionBecauseNoResponseCanCarryTheCookie()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/a/1");
        await using var signedIn = await HubApp.StartAsync(server.Address, HubApp.SessionHubPath, cookie: CookieHeader(client));
        await using var anonymous = await HubApp.StartAsync(server.Address, HubApp.SessionHubPath);

        var signIn = await Assert.ThrowsAsync<HubException>(() => signedIn.InvokeAsync("SignInAs", "mallory", TestContext.Current.CancellationToken));
        var create = await Assert.ThrowsAsync<HubException>(() => anonymous.InvokeAsync("Write", "b", "2", TestContext.Current.CancellationToken));

        Assert.Contains("no HTTP response to carry a new session cookie", signIn.Message, StringComparison.Ordinal);
        Assert.Contains("no HTTP response to carry a new session cookie", create.Message, StringComparison.Ordinal);
        Assert.Equal("(anonymous)", await client.GetStringAsync("/whoami"));
        Assert.Equal(1L, await ((ISessionStoreCounter)Store).CountAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task HubActivityExtendsTheIdleDeadlineAtMostOncePerTouchInterval()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/a/1");
        var id = await client.GetStringAsync("/id");
        var created = (await Store.LoadAsync(id, TestContext.Current.CancellationToken))!;
        await using var hub = await HubApp.StartAsync(server.Address, HubApp.SessionHubPath, cookie: CookieHeader(client));
        var interval = server.Manager.Options.TouchInterval;

        Clock.Advance(interval + TimeSpan.FromSeconds(1));
        await hub.InvokeAsync<string>("Read", "a", TestContext.Current.CancellationToken);
        var touched = (await Store.LoadAsync(id, TestContext.Current.CancellationToken))!;
        Clock.Advance(interval / 2);
        await hub.InvokeAsync<string>("Read", "a", TestContext.Current.CancellationToken);
        var notAgain = (await Store.LoadAsync(id, TestContext.Current.CancellationToken))!;

        Assert.Equal(created.LastSeenAt + interval + TimeSpan.FromSeconds(1), touched.LastSeenAt);
        Assert.True(touched.IdleExpiresAt > created.IdleExpiresAt);
        Assert.Equal(touched.LastSeenAt, notAgain.LastSeenAt);
        Assert.Equal(touched.IdleExpiresAt, notAgain.IdleExpiresAt);
    }

    [Fact]
    public async Task TheConnectionsUserIsTheSessionsPrincipalWithItsClaims()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/hub-test/signin/none");
        var id = await client.GetStringAsync("/id");
        await using var hub = await HubApp.StartAsync(server.Address, HubApp.SessionHubPath, cookie: CookieHeader(client));

        Assert.Equal($"alice|alice@example.com|{id}", await hub.InvokeAsync<string>("Who", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task AnAuthorizedHubRefusesAnonymousCallersAndAdmitsSignedInOnes()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/hub-test/signin/none");
        await using var anonymous = HubApp.Connect(server.Address, HubApp.SignedInHubPath);

        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => anonymous.StartAsync(TestContext.Current.CancellationToken));
        await using var signedIn = await HubApp.StartAsync(server.Address, HubApp.SignedInHubPath, cookie: CookieHeader(client));

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("alice", await signedIn.InvokeAsync<string>("Who", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task ARolePolicyOnAHubMethodAdmitsOnlyTheRolesSessions()
    {
        var server = await StartAsync();
        using var admin = server.CreateClient();
        await admin.PostAsync("/hub-test/signin/admin");
        using var user = server.CreateClient();
        await user.PostAsync("/hub-test/signin/none");
        await using var adminHub = await HubApp.StartAsync(server.Address, HubApp.SessionHubPath, cookie: CookieHeader(admin));
        await using var userHub = await HubApp.StartAsync(server.Address, HubApp.SessionHubPath, cookie: CookieHeader(user));

        Assert.Equal("admin", await adminHub.InvokeAsync<string>("AdminOnly", TestContext.Current.CancellationToken));
        var refused = await Assert.ThrowsAsync<HubException>(() => userHub.InvokeAsync<string>("AdminOnly", TestContext.Current.CancellationToken));
        Assert.Contains("unauthorized", refused.Message, StringComparison.OrdinalIgnoreCase);
    }

    private Action<TesseraHubOptions>? _hubOptions;

    internal static Task<(string Ticket, string ConnectionToken, string[] Transports)> NegotiateAsync(TesseraTestServer server, string accessToken) =>
        WebSocketAttempt.NegotiateAsync(server.Address, HubApp.SessionHubPath, accessToken);

    internal static Task<WebSocketAttempt> ConnectWebSocketAsync(TesseraTestServer server, string pathAndQuery, string? origin = null, string? cookie = null) =>
        WebSocketAttempt.ConnectAsync(server.Address, pathAndQuery, origin, cookie);
}

/// <summary>Tests that use <see cref="SessionHub.Gate"/> run one at a time.</summary>
[CollectionDefinition(nameof(HubGateCollection), DisableParallelization = true)]
public sealed class HubGateCollection
{
}
