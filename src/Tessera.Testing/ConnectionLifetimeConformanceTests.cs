using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Tessera.AspNetCore;
using Tessera.NearCache;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// The connection-lifetime suite: a SignalR connection (the real .NET client over WebSockets, on real Kestrel) is
/// closed, with the reason, when its session is signed out, revoked from another device (one, the others, or all),
/// revoked by an operator, pushed out by the session limit, revoked as leaked (a rotated refresh token reused), or expires. Every server-side store passes it; inheriting it declares that the store can end sessions.
/// </summary>
public abstract class ConnectionLifetimeConformanceTests<TKit> : HttpConformanceTestBase<TKit>
    where TKit : StoreKit, new()
{
    /// <summary>Signing out on the HTTP side closes the session's hub connection, which is told <c>sign_out</c>.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task SigningOutClosesTheSessionsHubConnectionWithTheReasonSignOut()
    {
        var server = await StartHubServerAsync(Store);
        using var browser = server.CreateClient();
        await browser.PostAsync("/signin/alice");
        await using var hub = await HubClient.ConnectAsync(server.Address, CookieHeader(browser));
        Assert.Equal("pong", await hub.PingAsync());

        await browser.PostAsync("/destroy");

        Assert.Equal("sign_out", await hub.WaitForSessionEndAsync());
        Assert.False(hub.IsConnected);
    }

    /// <summary>Revoking a session from another of the user's devices closes its connection, told <c>user</c>; the other device's stays.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task RevokingASessionFromAnotherDeviceClosesItsConnectionOnly()
    {
        var server = await StartHubServerAsync(Store);
        using var laptop = server.CreateClient();
        using var phone = server.CreateClient();
        await laptop.PostAsync("/signin/alice");
        await phone.PostAsync("/signin/alice");
        await using var laptopHub = await HubClient.ConnectAsync(server.Address, CookieHeader(laptop));
        await using var phoneHub = await HubClient.ConnectAsync(server.Address, CookieHeader(phone));
        // A revoke before the hub's connect event loaded the session finds no live session there: "revoked", not "user".
        await WaitUntilWatchedAsync(server, 2);

        Assert.Equal("Revoked", await laptop.PostAsync($"/my-sessions/{await phone.GetStringAsync("/id")}/revoke"));

        Assert.Equal("user", await phoneHub.WaitForSessionEndAsync());
        Assert.Equal("pong", await laptopHub.PingAsync());
        Assert.False(laptopHub.WasToldSessionEnded);
    }

    /// <summary>
    /// "Sign out other devices": the connections of the user's other sessions are closed, told <c>user</c>; the
    /// connection of the session that asked stays open and is told nothing.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task SigningOutOtherDevicesClosesTheirConnectionsAndKeepsThisOnesOpen()
    {
        var server = await StartHubServerAsync(Store);
        using var laptop = server.CreateClient();
        using var phone = server.CreateClient();
        using var tablet = server.CreateClient();
        foreach (var device in new[] { laptop, phone, tablet })
        {
            await device.PostAsync("/signin/alice");
        }
        await using var laptopHub = await HubClient.ConnectAsync(server.Address, CookieHeader(laptop));
        await using var phoneHub = await HubClient.ConnectAsync(server.Address, CookieHeader(phone));
        await using var tabletHub = await HubClient.ConnectAsync(server.Address, CookieHeader(tablet));
        await WaitUntilWatchedAsync(server, 3);

        Assert.Equal("2", await laptop.PostAsync("/my-sessions/revoke-others"));

        Assert.Equal(["user", "user"], await Task.WhenAll(phoneHub.WaitForSessionEndAsync(), tabletHub.WaitForSessionEndAsync()));
        Assert.Equal("pong", await laptopHub.PingAsync());
        Assert.False(laptopHub.WasToldSessionEnded);
    }

    /// <summary>
    /// "Sign out everywhere": every connection of the user's sessions is closed, the asking session's included, each
    /// told <c>user</c>; another user's connection stays open.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task SigningOutEverywhereClosesEveryConnectionOfTheUserAndNoOneElses()
    {
        var server = await StartHubServerAsync(Store);
        using var laptop = server.CreateClient();
        using var phone = server.CreateClient();
        using var someoneElse = server.CreateClient();
        await laptop.PostAsync("/signin/alice");
        await phone.PostAsync("/signin/alice");
        await someoneElse.PostAsync("/signin/bob");
        await using var laptopHub = await HubClient.ConnectAsync(server.Address, CookieHeader(laptop));
        await using var phoneHub = await HubClient.ConnectAsync(server.Address, CookieHeader(phone));
        await using var bobsHub = await HubClient.ConnectAsync(server.Address, CookieHeader(someoneElse));
        await WaitUntilWatchedAsync(server, 3);

        Assert.Equal("2", await laptop.PostAsync("/my-sessions/revoke-all"));

        Assert.Equal(["user", "user"], await Task.WhenAll(laptopHub.WaitForSessionEndAsync(), phoneHub.WaitForSessionEndAsync()));
        Assert.Equal("pong", await bobsHub.PingAsync());
        Assert.False(bobsHub.WasToldSessionEnded);
    }

    /// <summary>An operator's revoke by id (<c>SessionManager.RevokeAsync</c>) closes the session's connection, told <c>operator</c>.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AnOperatorsRevokeClosesTheConnectionWithTheReasonOperator()
    {
        var server = await StartHubServerAsync(Store);
        using var browser = server.CreateClient();
        await browser.PostAsync("/signin/alice");
        await using var hub = await HubClient.ConnectAsync(server.Address, CookieHeader(browser));
        await WaitUntilWatchedAsync(server);

        Assert.True(await server.Manager.RevokeAsync(await browser.GetStringAsync("/id")));

        Assert.Equal("operator", await hub.WaitForSessionEndAsync());
    }

    /// <summary>
    /// A rotated refresh token presented again after the grace window (a leaked token) revokes its session, and the
    /// token connection of that session is closed, told <c>leak</c>.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ReusingARotatedRefreshTokenClosesTheSessionsTokenConnectionWithTheReasonLeak()
    {
        var server = await StartHubServerAsync(Store, bearerTokens: true);
        using var client = server.CreateClient();
        var first = await server.Manager.Tokens.CreateAsync("alice");
        await using var hub = await HubClient.ConnectAsync(server.Address, accessToken: first.AccessToken);
        await WaitUntilWatchedAsync(server);
        await RefreshAsync(client, first.RefreshToken, HttpStatusCode.OK); // a rotation ends nothing
        Assert.Equal("pong", await hub.PingAsync());
        Clock.Advance(server.Manager.Options.Tokens.ReuseGraceWindow + TimeSpan.FromSeconds(1));

        await RefreshAsync(client, first.RefreshToken, HttpStatusCode.Unauthorized);

        Assert.Equal("leak", await hub.WaitForSessionEndAsync());
    }

    /// <summary>A sign-in beyond the per-user limit revokes the oldest session, and its connection is closed, told <c>limit</c>.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task TheSessionLimitClosesTheConnectionOfTheSessionItRevoked()
    {
        var server = await StartHubServerAsync(CreateStore(), options => options.MaxSessionsPerSubject = 1); // the counting wrapper cannot limit
        using var old = server.CreateClient();
        await old.PostAsync("/signin/alice");
        await using var hub = await HubClient.ConnectAsync(server.Address, CookieHeader(old));
        Assert.Equal("pong", await hub.PingAsync()); // a hub answers only once OnConnectedAsync (the watch) is done
        Clock.Advance(TimeSpan.FromSeconds(1));

        using var newer = server.CreateClient();
        await newer.PostAsync("/signin/alice");

        Assert.Equal("limit", await hub.WaitForSessionEndAsync());
    }

    /// <summary>A connection whose session passes its idle deadline is closed, told <c>expired</c>; nothing revoked it.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AConnectionIsClosedWhenItsSessionsIdleDeadlinePasses()
    {
        var server = await StartHubServerAsync(Store, options => options.IdleTimeout = TimeSpan.FromMinutes(5));
        using var browser = server.CreateClient();
        await browser.PostAsync("/signin/alice");
        await using var hub = await HubClient.ConnectAsync(server.Address, CookieHeader(browser));
        await WaitUntilWatchedAsync(server);
        Clock.Advance(TimeSpan.FromMinutes(4));
        Assert.Equal("pong", await hub.PingAsync());

        Clock.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));

        Assert.Equal("expired", await hub.WaitForSessionEndAsync());
    }

    /// <summary>
    /// A session that ends while its connection is being set up (after the handshake, before the hub's connect event
    /// ran) still closes the connection: the credential it presented finds no live session, which counts as ended.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AConnectionWhoseSessionEndedBeforeItWasWatchedIsClosedToo()
    {
        var server = await StartHubServerAsync(Store);
        using var browser = server.CreateClient();
        await browser.PostAsync("/signin/alice");
        var cookie = CookieHeader(browser);
        await browser.PostAsync("/destroy");

        await using var hub = await HubClient.ConnectAsync(server.Address, cookie);

        Assert.Equal("revoked", await hub.WaitForSessionEndAsync());
    }

    /// <summary>Posts a refresh token to the token endpoint (<c>/tokens/refresh</c>) and asserts the status of the answer.</summary>
    /// <param name="client">The client.</param>
    /// <param name="refreshToken">The refresh token.</param>
    /// <param name="expected">The status the endpoint must answer with.</param>
    /// <returns>A task.</returns>
    protected static async Task RefreshAsync(CookieClient client, string refreshToken, HttpStatusCode expected)
    {
        ArgumentNullException.ThrowIfNull(client);
        using var body = new StringContent(JsonSerializer.Serialize(new { refreshToken }), Encoding.UTF8, "application/json");
        using var response = await client.SendAsync(HttpMethod.Post, "/tokens/refresh", body);
        Assert.Equal(expected, response.StatusCode);
    }

    /// <summary>The <c>Cookie</c> header that carries a client's session cookie.</summary>
    /// <param name="client">The client.</param>
    /// <returns>The header value.</returns>
    protected static string CookieHeader(CookieClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        return $"{client.CookieName}={client.Cookie}";
    }

    /// <summary>
    /// Waits until the server watches at least <paramref name="count"/> sessions: the watch starts just after the
    /// connection opens, and a test that ends the session elsewhere must not do it before.
    /// </summary>
    /// <param name="server">The server.</param>
    /// <param name="count">How many sessions.</param>
    /// <returns>A task.</returns>
    protected static async Task WaitUntilWatchedAsync(TesseraTestServer server, int count = 1)
    {
        ArgumentNullException.ThrowIfNull(server);
        var watcher = server.Services.GetRequiredService<SessionEndWatcher>();
        for (var i = 0; i < 500 && watcher.Count < count; i++)
        {
            await Task.Delay(10);
        }
        Assert.True(watcher.Count >= count, "The hub connection's session is not watched.");
    }

    /// <summary>
    /// Starts a server with the test hub and <c>AddTesseraConnectionLifetime()</c> over <paramref name="store"/>.
    /// </summary>
    /// <param name="store">The store.</param>
    /// <param name="configure">Further option changes.</param>
    /// <param name="channel">The invalidation channel the watcher uses (for several instances), or <see langword="null"/>.</param>
    /// <param name="bearerTokens">Whether bearer-token sessions and authentication are on.</param>
    /// <returns>The server.</returns>
    protected Task<TesseraTestServer> StartHubServerAsync(ISessionStore store, Action<TesseraOptions>? configure = null, Func<ISessionInvalidationChannel>? channel = null, bool bearerTokens = false) =>
        StartTestServerAsync(
            store,
            [Key],
            services =>
            {
                ConfigureServices(services);
                if (channel is not null)
                {
                    services.AddSingleton<SessionInvalidationChannelFactory>(_ => () => channel());
                }
                services.AddSignalR().AddTesseraConnectionLifetime();
            },
            configure,
            bearerTokens,
            // Not CloseOnAuthenticationExpiration: SignalR compares a token's expiry with the system clock, and the
            // suite's tokens expire on the test's clock, months before now, so it would close every token connection
            // within a second. Tessera.AspNetCore.Tests tests that option on the system clock.
            app => app.MapHub<SessionTestHub>(SessionTestHub.Path),
            authentication: bearerTokens);
}

/// <summary>
/// The connection-lifetime suite across two app instances on one shared store, for stores with an invalidation channel
/// (Redis pub/sub, PostgreSQL <c>LISTEN</c>/<c>NOTIFY</c>): a sign-out on one instance closes the connection held by
/// the other, and when the message is lost the connection still closes at the next re-validation.
/// </summary>
public abstract class ConnectionLifetimeAcrossInstancesConformanceTests<TKit> : ConnectionLifetimeConformanceTests<TKit>
    where TKit : StoreKit, new()
{
    /// <summary>Signing out on instance A closes the connection instance B holds, told <c>sign_out</c>.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task SigningOutOnOneInstanceClosesTheConnectionOnTheOther()
    {
        var (a, b, _) = await StartTwoInstancesAsync();
        using var browser = a.CreateClient();
        await browser.PostAsync("/signin/alice");
        await using var hub = await HubClient.ConnectAsync(b.Address, CookieHeader(browser));
        await WaitUntilWatchedAsync(b);

        await browser.PostAsync("/destroy");

        Assert.Equal("sign_out", await hub.WaitForSessionEndAsync());
    }

    /// <summary>
    /// A leaked refresh token reused on instance A closes the session's token connection on instance B, and B's client
    /// learns the reason A knew: <c>leak</c>.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AReuseOnOneInstanceClosesTheTokenConnectionOnTheOtherWithTheReasonLeak()
    {
        var (a, b, _) = await StartTwoInstancesAsync(bearerTokens: true);
        using var client = a.CreateClient();
        var first = await a.Manager.Tokens.CreateAsync("alice");
        await using var hub = await HubClient.ConnectAsync(b.Address, accessToken: first.AccessToken);
        await WaitUntilWatchedAsync(b);
        await RefreshAsync(client, first.RefreshToken, HttpStatusCode.OK);
        Clock.Advance(a.Manager.Options.Tokens.ReuseGraceWindow + TimeSpan.FromSeconds(1));

        await RefreshAsync(client, first.RefreshToken, HttpStatusCode.Unauthorized);

        Assert.Equal("leak", await hub.WaitForSessionEndAsync());
    }

    /// <summary>
    /// When instance B loses the message, its connection stays open until the re-validation interval passes on its
    /// clock, then closes once B has waited <see cref="SessionEndWatcherOptions.EndedMessageWait"/> for a message that
    /// never comes (the reason unknown to B: <c>revoked</c>). The lost message delays the close; it never cancels it.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ALostMessageDelaysTheCloseUntilTheNextRevalidation()
    {
        var (a, b, channelOfB) = await StartTwoInstancesAsync();
        using var browser = a.CreateClient();
        await browser.PostAsync("/signin/alice");
        var id = await browser.GetStringAsync("/id");
        await using var hub = await HubClient.ConnectAsync(b.Address, CookieHeader(browser));
        await WaitUntilWatchedAsync(b);
        channelOfB().DropIncoming = true;

        await browser.PostAsync("/destroy");
        await channelOfB().WaitForAsync(id);

        Assert.Equal("pong", await hub.PingAsync());
        Assert.False(hub.WasToldSessionEnded);
        Clock.Advance(SessionEndWatcherDefaults.RevalidationInterval);
        // B's re-read finds the session revoked and waits for the message that says why; it was dropped, so the wait
        // runs out. The wait's timer starts when the re-read returns: move the clock until it has.
        for (var i = 0; i < 500 && !hub.WasToldSessionEnded; i++)
        {
            await Task.Delay(10);
            Clock.Advance(SessionEndWatcherDefaults.EndedMessageWait);
        }
        Assert.Equal("revoked", await hub.WaitForSessionEndAsync());
    }

    private async Task<(TesseraTestServer A, TesseraTestServer B, Func<ObservedInvalidationChannel> ChannelOfB)> StartTwoInstancesAsync(bool bearerTokens = false)
    {
        var storeA = Kit.CreateSharedStore(Clock);
        var storeB = Kit.CreateSharedStore(Clock);
        ObservedInvalidationChannel? channelOfB = null;
        var a = await StartHubServerAsync(storeA, channel: () => new ObservedInvalidationChannel(Kit.CreateChannel(storeA)), bearerTokens: bearerTokens);
        var b = await StartHubServerAsync(storeB, channel: () => channelOfB = new ObservedInvalidationChannel(Kit.CreateChannel(storeB)), bearerTokens: bearerTokens);
        return (a, b, () => channelOfB ?? throw new InvalidOperationException("Instance B made no channel."));
    }
}
