using System.Net;
using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Testing;

namespace Tessera.AspNetCore.Tests.Realtime;

/// <summary>
/// The request-origin guard on WebSocket handshakes, with a real <see cref="ClientWebSocket"/> sending an
/// <c>Origin</c> header to a real Kestrel server: a handshake that carries the session cookie from a sibling origin is
/// refused with 403 before the upgrade (cross-site WebSocket hijacking), on hub paths and plain WebSocket endpoints alike.
/// </summary>
public sealed class UpgradeOriginTests : HttpConformanceTestBase<InMemoryStoreKit>
{
    private const string Sibling = "http://evil.127.0.0.1.example";

    protected override void ConfigureServices(IServiceCollection services)
    {
        base.ConfigureServices(services);
        HubApp.ConfigureServices(services);
    }

    private async Task<(TesseraTestServer Server, string Cookie)> StartSignedInAsync()
    {
        var server = await StartTestServerAsync(Store, configure: null, mapExtraRoutes: HubApp.Map, bearerTokens: true, authentication: true);
        using var client = server.CreateClient();
        await client.PostAsync("/signin/alice");
        return (server, HubSessionTests.CookieHeader(client));
    }

    [Theory]
    [InlineData(HubApp.SessionHubPath)]
    [InlineData("/ws")]
    public async Task AWebSocketHandshakeCarryingTheSessionCookieFromASiblingOriginIsRefusedBeforeTheUpgrade(string path)
    {
        var (server, cookie) = await StartSignedInAsync();

        using var attempt = await HubSessionTests.ConnectWebSocketAsync(server, path, origin: Sibling, cookie: cookie);

        Assert.Equal(HttpStatusCode.Forbidden, attempt.Status);
        Assert.NotEqual(WebSocketState.Open, attempt.Socket.State);
    }

    [Theory]
    [InlineData(HubApp.SessionHubPath, null)]
    [InlineData(HubApp.SessionHubPath, HubApp.TrustedOrigin)]
    [InlineData("/ws", null)]
    [InlineData("/ws", HubApp.TrustedOrigin)]
    public async Task AWebSocketHandshakeWithTheCookieFromTheSameOrATrustedOriginOpens(string path, string? origin)
    {
        var (server, cookie) = await StartSignedInAsync();

        using var attempt = await HubSessionTests.ConnectWebSocketAsync(server, path, origin: origin ?? server.Address.GetLeftPart(UriPartial.Authority), cookie: cookie);

        Assert.Equal(HttpStatusCode.SwitchingProtocols, attempt.Status);
        Assert.Equal(WebSocketState.Open, attempt.Socket.State);
    }

    [Fact]
    public async Task AHandshakeWithoutTheCookieOrWithATicketIsNotJudgedByItsOrigin()
    {
        var (server, _) = await StartSignedInAsync();
        var pair = await server.Manager.Tokens.CreateAsync("alice", cancellationToken: TestContext.Current.CancellationToken);
        var (ticket, connectionToken, _) = await HubSessionTests.NegotiateAsync(server, pair.AccessToken);

        using var anonymous = await HubSessionTests.ConnectWebSocketAsync(server, "/ws", origin: Sibling);
        using var withTicket = await HubSessionTests.ConnectWebSocketAsync(server, $"{HubApp.SessionHubPath}?id={connectionToken}&access_token={ticket}", origin: Sibling);

        Assert.Equal(WebSocketState.Open, anonymous.Socket.State);
        Assert.Equal(WebSocketState.Open, withTicket.Socket.State);
    }
}
