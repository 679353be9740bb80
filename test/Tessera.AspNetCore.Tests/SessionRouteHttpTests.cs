using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Tessera.Testing;
using Tessera.Tokens;

namespace Tessera.AspNetCore.Tests;

/// <summary>
/// A session keeps its route through the real request path (Kestrel and an HTTP client): every cookie issued for it
/// (on creation, sign-in and regenerate) and every token id (on creation and rotation) carries
/// <see cref="SessionRoute.Of"/> of its id, and the core finds it through <see cref="IRoutedSessionStore"/>.
/// </summary>
public sealed class SessionRouteHttpTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly RouteCheckingStore _store;
    private TesseraTestServer _server = null!;

    public SessionRouteHttpTests() => _store = new RouteCheckingStore(new InMemorySessionStore(_clock));

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
        Assert.Equal(8, _store.TokenIds.Count);
        Assert.All(_store.TokenIds, t => Assert.Equal(route, SessionRoute.Of(t)));
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

    /// <summary>
    /// Behaves as a store sharded by route does: a credential is found only on its session's route, the plain lookup is
    /// not available, and a token pair whose ids do not carry their session's route is refused. Records what it was asked.
    /// </summary>
    private sealed class RouteCheckingStore(InMemorySessionStore inner) : ISessionStore, IRoutedSessionStore, ISessionTokenStore
    {
        public ConcurrentQueue<(SessionRoute Route, string? FoundId)> Lookups { get; } = new();

        public ConcurrentBag<string> TokenIds { get; } = [];

        public async ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, SessionRoute route, CancellationToken cancellationToken = default)
        {
            var found = await inner.LoadByCredentialAsync(credentialHash, cancellationToken);
            if (found is not null && SessionRoute.Of(found.Id) != route)
            {
                found = null;
            }
            Lookups.Enqueue((route, found?.Id));
            return found;
        }

        public ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException("A routed store needs the route.");

        public ValueTask<bool> CreateTokensAsync(TokenRecord access, TokenRecord refresh, CancellationToken cancellationToken = default) =>
            Routed(access, refresh) ? inner.CreateTokensAsync(access, refresh, cancellationToken) : ValueTask.FromResult(false);

        public ValueTask<TokenRotationOutcome> RotateAsync(string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, CancellationToken cancellationToken = default) =>
            Routed(newAccess, newRefresh) ? inner.RotateAsync(refreshTokenId, newAccess, newRefresh, now, cancellationToken) : ValueTask.FromResult(TokenRotationOutcome.NotFound);

        public ValueTask<TokenLookup?> LoadTokenAsync(string tokenId, CancellationToken cancellationToken = default) => inner.LoadTokenAsync(tokenId, cancellationToken);

        public ValueTask<TokenLookup?> LoadRefreshTokenAsync(string tokenId, CancellationToken cancellationToken = default) => inner.LoadRefreshTokenAsync(tokenId, cancellationToken);

        public ValueTask<bool> CreateAsync(SessionRecord record, CancellationToken cancellationToken = default) => inner.CreateAsync(record, cancellationToken);

        public ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken = default) => inner.LoadAsync(id, cancellationToken);

        public ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken = default) => inner.ApplyAsync(id, patch, cancellationToken);

        public ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken = default) => inner.TouchAsync(id, lastSeenAt, idleExpiresAt, cancellationToken);

        public ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default) => inner.RevokeAsync(id, revokedAt, cancellationToken);

        public ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken = default) => inner.DeleteAsync(id, cancellationToken);

        private bool Routed(TokenRecord access, TokenRecord refresh)
        {
            TokenIds.Add(access.Id);
            TokenIds.Add(refresh.Id);
            var route = SessionRoute.Of(access.SessionId);
            return SessionRoute.Of(access.Id) == route && SessionRoute.Of(refresh.Id) == route;
        }
    }
}
