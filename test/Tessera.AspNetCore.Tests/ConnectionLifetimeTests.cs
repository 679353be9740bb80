using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Tessera.AspNetCore;
using Tessera.Testing;

namespace Tessera.AspNetCore.Tests;

/// <summary>
/// The connection-lifetime suite on the memory store, and what only the HTTP layer shows: a token connection closed when
/// its access token expires, and a plain WebSocket endpoint told that its session ended.
/// </summary>
public sealed class ConnectionLifetimeTests : ConnectionLifetimeConformanceTests<InMemoryStoreKit>
{
    [Fact]
    public async Task AnAnonymousConnectionIsNotWatched()
    {
        var server = await StartHubServerAsync(Store);

        await using var hub = await HubClient.ConnectAsync(server.Address);

        Assert.Equal("pong", await hub.PingAsync());
        Assert.Equal(0, server.Services.GetRequiredService<SessionEndWatcher>().Count);
    }

    /// <summary>
    /// SignalR's CloseOnAuthenticationExpiration compares the ticket's expiry with the real clock once a second, so this
    /// test uses the system clock and a 2-second access token; the wait is a guard of 15 seconds, not a speed assertion.
    /// The session itself stays live: it is the token that ended, and the server sent no session-ended notice.
    /// </summary>
    [Fact]
    public async Task ATokenConnectionClosesWhenItsAccessTokenExpires()
    {
        var store = new InMemorySessionStore(TimeProvider.System);
        await using var server = await TesseraTestServer.StartAsync(
            store,
            TimeProvider.System,
            [Key],
            configure: options => options.Tokens.AccessTokenLifetime = TimeSpan.FromSeconds(2),
            mapExtraRoutes: app => app.MapHub<SessionTestHub>(SessionTestHub.Path, options => options.CloseOnAuthenticationExpiration = true),
            bearerTokens: true,
            authentication: true,
            configureServices: services => services.AddSignalR().AddTesseraConnectionLifetime());
        var pair = await server.Manager.Tokens.CreateAsync("alice", cancellationToken: TestContext.Current.CancellationToken);

        await using var hub = await HubClient.ConnectAsync(server.Address, accessToken: pair.AccessToken);
        Assert.Equal("pong", await hub.PingAsync());

        await hub.WaitForCloseAsync(TimeSpan.FromSeconds(15));
        Assert.False(hub.WasToldSessionEnded);
        Assert.True(DateTimeOffset.UtcNow >= pair.AccessTokenExpiresAt, "The connection closed before its token expired.");
        Assert.NotNull(await store.LoadAsync(pair.SessionId, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task APlainWebSocketIsToldWhenItsSessionEnds()
    {
        var server = await StartTestServerAsync(
            Store,
            [Key],
            services =>
            {
                ConfigureServices(services);
                services.AddTesseraSessionEndWatcher();
            },
            mapExtraRoutes: app =>
            {
                app.UseWebSockets();
                app.Map("/ws", EchoUntilTheSessionEndsAsync);
            });
        using var browser = server.CreateClient();
        await browser.PostAsync("/signin/alice");
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Cookie", CookieHeader(browser));
        await socket.ConnectAsync(new UriBuilder(new Uri(server.Address, "/ws")) { Scheme = "ws" }.Uri, TestContext.Current.CancellationToken);
        await WaitUntilWatchedAsync(server);

        await browser.PostAsync("/destroy");

        var received = await socket.ReceiveAsync(new ArraySegment<byte>(new byte[64]), TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(WebSocketMessageType.Close, received.MessageType);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, socket.CloseStatus);
        Assert.Equal("sign_out", socket.CloseStatusDescription);
    }

    // The documented pattern (docs/realtime.md, "Plain WebSockets").
    private static async Task EchoUntilTheSessionEndsAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }
        using var watch = await context.WatchTesseraSessionAsync(context.RequestAborted);
        if (watch is null)
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return;
        }
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        // Closing, not cancelling: a cancelled receive aborts a WebSocket without a close frame (and without the reason).
        using var closeWhenEnded = watch.Ended.Register(() => _ = socket.CloseOutputAsync(WebSocketCloseStatus.PolicyViolation, watch.Reason?.Code, CancellationToken.None));
        var buffer = new byte[1024];
        while (socket.State == WebSocketState.Open)
        {
            var message = await socket.ReceiveAsync(buffer, context.RequestAborted);
            if (message.MessageType == WebSocketMessageType.Close)
            {
                break;
            }
            await socket.SendAsync(buffer.AsMemory(0, message.Count), message.MessageType, message.EndOfMessage, context.RequestAborted);
        }
    }
}
