using System.Buffers.Text;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Tessera.Testing;
using Tessera.TestServices;

namespace Tessera.AspNetCore.Tests;

/// <summary>
/// A session keeps its route through the real request path (Kestrel and an HTTP client): every cookie issued for it
/// (on creation, sign-in and regenerate) and every token id (on creation and rotation) carries
/// <see cref="SessionRoute.Of"/> of its id, and the core finds it through <see cref="IRoutedSessionStore"/>: the store is
/// one that finds a credential only on its session's route and refuses token ids that do not carry it.
/// </summary>
public sealed class SessionRouteHttpTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly RoutedMemoryStore _store;
    private TesseraTestServer _server = null!;

    public SessionRouteHttpTests() => _store = new RoutedMemoryStore(new InMemorySessionStore(_clock));

    public async ValueTask InitializeAsync() =>
        _server = await TesseraTestServer.StartAsync(_store, _clock, [SigningKeyRing.GenerateBase64Key()], bearerTokens: true);

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task ACookieSessionKeepsItsRouteThroughSignInAndRegenerate()
    {
        using var client = _server.CreateClient();
        Assert.Equal("ok", await client.PostAsync("/set/cart/apple"));
        var id = await client.GetStringAsync("/id");
        var route = SessionRoute.Of(id);
        var cookies = new List<string> { client.Cookie! };

        Assert.Equal("ok", await client.PostAsync("/signin/alice"));
        cookies.Add(client.Cookie!);
        Assert.Equal("alice", await client.GetStringAsync("/whoami"));
        Assert.Equal("ok", await client.PostAsync("/regenerate"));
        cookies.Add(client.Cookie!);
        Assert.Equal("apple", await client.GetStringAsync("/read/cart"));

        Assert.Equal(3, cookies.Distinct(StringComparer.Ordinal).Count());
        Assert.All(cookies, cookie => Assert.Equal(route, RouteOf(cookie)));
        Assert.Equal(id, await client.GetStringAsync("/id"));
        // Every cookie request found its session through the routed lookup, on the session's own route.
        var lookups = _store.Lookups.ToList();
        Assert.True(lookups.Count >= 4, $"{lookups.Count} routed lookups");
        Assert.All(lookups, l => Assert.Equal((route, id), (l.Route, l.FoundId)));
    }

    [Fact]
    public async Task AStaleCookieOnItsSessionsRouteFindsNothingAfterRegenerate()
    {
        using var client = _server.CreateClient();
        await client.PostAsync("/set/cart/apple");
        var old = client.Cookie!;
        await client.PostAsync("/regenerate");

        using var stale = _server.CreateClient();
        stale.Cookie = old;

        Assert.Equal("(none)", await stale.GetStringAsync("/read/cart"));
        Assert.Contains(_store.Lookups, l => l.Route == RouteOf(old) && l.FoundId is null);
    }

    [Fact]
    public async Task ATokenSessionKeepsItsRouteThroughRotation()
    {
        var pair = await _server.Manager.Tokens.CreateAsync("alice");
        var route = SessionRoute.Of(pair.SessionId);
        using var client = _server.CreateClient();
        var tokens = new List<string> { pair.AccessToken, pair.RefreshToken };

        var refresh = pair.RefreshToken;
        for (var i = 0; i < 3; i++)
        {
            using var response = await client.SendAsync(HttpMethod.Post, "/tokens/refresh", new StringContent(JsonSerializer.Serialize(new { refreshToken = refresh }), Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            client.AccessToken = json.RootElement.GetProperty("accessToken").GetString();
            refresh = json.RootElement.GetProperty("refreshToken").GetString()!;
            tokens.Add(client.AccessToken!);
            tokens.Add(refresh);
        }

        Assert.Equal("alice", await client.GetStringAsync("/whoami"));
        Assert.Equal(8, tokens.Select(TokenId).Distinct(StringComparer.Ordinal).Count());
        Assert.All(tokens, token => Assert.Equal(route, SessionRoute.Of(TokenId(token))));
        // The store saw the same ids: one pair on creation, three rotations, each on the session's route.
        Assert.Equal(tokens.Select(TokenId).Order(StringComparer.Ordinal), _store.TokenIds.Order(StringComparer.Ordinal));
    }

    // The route a cookie credential carries: the first two bytes of its token, big-endian.
    private static SessionRoute RouteOf(string cookie)
    {
        var token = Base64Url.DecodeFromChars(cookie.AsSpan(0, 43));
        return new SessionRoute((ushort)((token[0] << 8) | token[1]));
    }

    private static string TokenId(string jwt)
    {
        using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(jwt.Split('.')[1]));
        return payload.RootElement.GetProperty("jti").GetString()!;
    }
}
