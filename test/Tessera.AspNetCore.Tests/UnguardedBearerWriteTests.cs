using Microsoft.Extensions.Time.Testing;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Tessera.Testing;

namespace Tessera.AspNetCore.Tests;

public sealed class UnguardedBearerWriteTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly CountingSessionStore _store;
    private TesseraTestServer _server = null!;

    public UnguardedBearerWriteTests() => _store = new CountingSessionStore(new InMemorySessionStore(_clock));

    public async ValueTask InitializeAsync() =>
        _server = await TesseraTestServer.StartAsync(_store, _clock, [SigningKeyRing.GenerateBase64Key()], bearerTokens: true, mapExtraRoutes: app =>
            app.MapPost("/unguarded/{value}", (HttpSession session, string value) =>
            {
                session.Set("note", value);
                return "written";
            }));

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task AnUnguardedWriteWithARejectedTokenIsAChallengeNotAServerError()
    {
        using var client = _server.CreateClient();

        using var response = await client.SendAsync(HttpMethod.Post, "/unguarded/x", new ByteArrayContent([]), authorization: ["Bearer not-a-token"]);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer error=\"invalid_token\", error_description=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString());
        Assert.Equal(0, _store.Writes);
    }

    [Fact]
    public async Task AnUnguardedWriteWithAValidTokenIsCommitted()
    {
        var pair = await _server.Manager.Tokens.CreateAsync("alice");
        using var client = _server.CreateClient();

        using var response = await client.SendAsync(HttpMethod.Post, "/unguarded/kept", new ByteArrayContent([]), authorization: ["Bearer " + pair.AccessToken]);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonAssert.Equal("\"kept\"", (await _server.Manager.Tokens.GetAsync(pair.AccessToken)).Value!.Data["note"]);
    }
}
