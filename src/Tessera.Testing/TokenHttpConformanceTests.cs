using Microsoft.Extensions.Logging.Testing;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Tokens;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// The HTTP conformance suite of token sessions: a real Kestrel server with bearer tokens, Tessera authentication and
/// the token endpoints (under <c>/tokens</c>), driven by a real HTTP client over your store. Inherit it and implement
/// <see cref="HttpConformanceTestBase{TKit}.CreateStore"/> with a store that implements <see cref="ISessionTokenStore"/>.
/// </summary>
public abstract class TokenHttpConformanceTests<TKit> : HttpConformanceTestBase<TKit>
    where TKit : StoreKit, new()
{
    /// <summary>Starts a server with bearer tokens over <see cref="HttpConformanceTestBase{TKit}.Store"/>; it is stopped when the test ends.</summary>
    /// <param name="authentication">Whether Tessera authentication is the default scheme (it reads the session of every request that presents a credential).</param>
    /// <returns>The server.</returns>
    protected Task<TesseraTestServer> StartServerAsync(bool authentication = true) =>
        StartTestServerAsync(bearerTokens: true, authentication: authentication);

    /// <summary>A bearer request whose handler never touches the session makes no store call and sets no cookie.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ABearerRequestThatNeverTouchesTheSessionCallsNoStore()
    {
        var server = await StartServerAsync(authentication: false);
        var pair = await server.Manager.Tokens.CreateAsync("alice");
        using var client = server.CreateClient();
        client.AccessToken = pair.AccessToken;
        Store.Reset();

        using var response = await client.SendAsync(HttpMethod.Get, "/plain");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Set-Cookie"));
        Assert.Equal(0, Store.Calls);
    }

    /// <summary>Reading a token session writes nothing and costs one store read per request, authentication included.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AReadOnlyBearerRequestMakesNoStoreWritesAndOneRead()
    {
        var server = await StartServerAsync();
        var pair = await server.Manager.Tokens.CreateAsync("alice", new Dictionary<string, string> { ["a"] = "\"1\"" });
        using var client = server.CreateClient();
        client.AccessToken = pair.AccessToken;
        Store.Reset();

        for (var i = 0; i < 10; i++)
        {
            using var response = await client.SendAsync(HttpMethod.Get, "/read/a");
            Assert.Equal("1", await response.Content.ReadAsStringAsync());
            Assert.False(response.Headers.Contains("Set-Cookie"));
        }

        Assert.Equal(0, Store.Writes);
        Assert.Equal(10, Store.Reads);
    }

    /// <summary>Concurrent bearer requests setting different keys of one token session keep every key.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ConcurrentBearerRequestsSettingDifferentKeysKeepEveryKey()
    {
        var server = await StartServerAsync();
        var pair = await server.Manager.Tokens.CreateAsync("alice");

        var tasks = Enumerable.Range(0, 50).Select(async i =>
        {
            using var client = server.CreateClient();
            client.AccessToken = pair.AccessToken;
            using var response = await client.SendAsync(HttpMethod.Post, $"/set/k{i}/{i}", new ByteArrayContent([]));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.False(response.Headers.Contains("Set-Cookie"));
        });
        await Task.WhenAll(tasks);

        using var reader = server.CreateClient();
        reader.AccessToken = pair.AccessToken;
        var keys = (await reader.GetStringAsync("/keys")).Split(',');
        Assert.Equal(50, keys.Length);
        var stored = await server.Manager.Tokens.GetAsync(pair.AccessToken);
        Assert.True(stored.Succeeded);
        Assert.Equal("\"7\"", stored.Value!.Data["k7"]);
    }

    /// <summary>
    /// A bearer request wins over a cookie sent with it, and never sets or clears a cookie, even when it writes,
    /// regenerates or destroys; destroying revokes the token session.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ABearerRequestNeverSetsOrClearsACookie()
    {
        var server = await StartServerAsync();
        var pair = await server.Manager.Tokens.CreateAsync("alice");
        using var client = server.CreateClient();
        await client.PostAsync("/signin/bob");
        var cookie = client.Cookie;
        Assert.NotNull(cookie);
        client.AccessToken = pair.AccessToken;

        foreach (var (method, path) in new[] { ("GET", "/whoami"), ("POST", "/set/x/1"), ("POST", "/regenerate"), ("GET", "/read/x"), ("POST", "/destroy") })
        {
            using var response = await client.SendAsync(new HttpMethod(method), path, method == "POST" ? new ByteArrayContent([]) : null);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.False(response.Headers.Contains("Set-Cookie"), $"{method} {path} set a cookie");
            if (path == "/whoami")
            {
                Assert.Equal("alice", await response.Content.ReadAsStringAsync());
            }
            if (path == "/read/x")
            {
                Assert.Equal("1", await response.Content.ReadAsStringAsync());
            }
        }

        Assert.Equal(cookie, client.Cookie);
        Assert.Equal("(anonymous)", await client.GetStringAsync("/whoami"));
        Assert.Equal(TokenFailure.RevokedToken, (await server.Manager.Tokens.GetAsync(pair.AccessToken)).Failure);
        client.AccessToken = null;
        Assert.Equal("bob", await client.GetStringAsync("/whoami"));
    }

    /// <summary>
    /// A missing, malformed, expired, revoked or refresh token is a 401 with an RFC 6750 challenge naming the reason,
    /// never a 500, and the token never appears in the header or the logs.
    /// </summary>
    /// <param name="kind">What the client presents.</param>
    /// <param name="reason">The expected <c>error_description</c>, or <c>none</c> for a bare <c>Bearer</c> challenge.</param>
    /// <returns>A task.</returns>
    [Theory]
    [InlineData("missing", "none")]
    [InlineData("garbage", "invalid_token")]
    [InlineData("tampered", "invalid_token")]
    [InlineData("scheme-only", "invalid_token")]
    [InlineData("two-tokens", "invalid_token")]
    [InlineData("two-headers", "invalid_token")]
    [InlineData("oversized", "invalid_token")]
    [InlineData("expired", "expired_token")]
    [InlineData("refresh-as-access", "wrong_token_type")]
    [InlineData("revoked", "revoked_token")]
    public async Task ARejectedOrMissingTokenIsA401WithABearerChallenge(string kind, string reason)
    {
        var server = await StartServerAsync();
        var pair = await server.Manager.Tokens.CreateAsync("alice");
        var options = server.Manager.Options.Tokens;
        string[] authorization = kind switch
        {
            "missing" => [],
            "garbage" => ["Bearer not.a.jwt"],
            // One signature character changed, always to another one (a token ending in "AA" would pass as itself).
            "tampered" => [$"Bearer {pair.AccessToken[..^2]}{(pair.AccessToken[^2] == 'A' ? 'B' : 'A')}{pair.AccessToken[^1]}"],
            "scheme-only" => ["Bearer"],
            "two-tokens" => [$"Bearer {pair.AccessToken} {pair.AccessToken}"],
            "two-headers" => [$"Bearer {pair.AccessToken}", $"Bearer {pair.AccessToken}"],
            "oversized" => ["Bearer " + new string('a', 10 * 1024)],
            "expired" or "revoked" => [$"Bearer {pair.AccessToken}"],
            "refresh-as-access" => [$"Bearer {pair.RefreshToken}"],
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        if (kind == "expired")
        {
            Clock.Advance(options.AccessTokenLifetime + options.ClockSkew + TimeSpan.FromSeconds(1));
        }
        if (kind == "revoked")
        {
            Assert.True((await server.Manager.Tokens.InvalidateAsync(pair.AccessToken)).Succeeded);
        }
        using var client = server.CreateClient();

        foreach (var path in new[] { "/auth/user", "/auth/attribute" })
        {
            using var response = await client.SendAsync(HttpMethod.Get, path, authorization: authorization);

            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            var challenge = Header(response, "WWW-Authenticate");
            Assert.Equal(reason == "none" ? "Bearer" : $"Bearer error=\"invalid_token\", error_description=\"{reason}\"", challenge);
            Assert.False(response.Headers.Contains("Set-Cookie"));
        }
        Assert.DoesNotContain(pair.AccessToken, server.Logs.AllText(), StringComparison.Ordinal);
        Assert.DoesNotContain(pair.RefreshToken, server.Logs.AllText(), StringComparison.Ordinal);
    }

    /// <summary>A header larger than the server accepts is refused by the server, never a 500.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AHugeAuthorizationHeaderIsRefusedWithoutA500()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();

        using var response = await client.SendAsync(HttpMethod.Get, "/auth/user", authorization: ["Bearer " + new string('a', 64 * 1024)]);

        Assert.True(response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.RequestHeaderFieldsTooLarge, $"got {(int)response.StatusCode}");
    }

    /// <summary>The scheme name is case-insensitive (RFC 7235).</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task TheBearerSchemeIsCaseInsensitive()
    {
        var server = await StartServerAsync();
        var pair = await server.Manager.Tokens.CreateAsync("alice");
        using var client = server.CreateClient();

        using var response = await client.SendAsync(HttpMethod.Get, "/auth/user", authorization: [$"bEARER {pair.AccessToken}"]);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("alice|", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>A signed-in cookie session authenticates <c>[Authorize]</c>, <c>RequireAuthorization()</c> and <c>HttpContext.User</c>.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ACookieSessionWithASubjectIsAnAuthenticatedUser()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/signin/alice");
        var sessionId = await client.GetStringAsync("/id");

        var expected = $"alice|alice|{sessionId}|Tessera.Cookie";
        Assert.Equal(expected, await client.GetStringAsync("/auth/user"));
        Assert.Equal(expected, await client.GetStringAsync("/auth/attribute"));
        Assert.Equal(expected, await client.GetStringAsync("/auth/optional"));
    }

    /// <summary>A token session with a subject authenticates <c>[Authorize]</c>, <c>RequireAuthorization()</c> and <c>HttpContext.User</c>.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ATokenSessionWithASubjectIsAnAuthenticatedUser()
    {
        var server = await StartServerAsync();
        var pair = await server.Manager.Tokens.CreateAsync("alice");
        using var client = server.CreateClient();
        client.AccessToken = pair.AccessToken;

        var expected = $"alice|alice|{pair.SessionId}|Tessera.Bearer";
        Assert.Equal(expected, await client.GetStringAsync("/auth/user"));
        Assert.Equal(expected, await client.GetStringAsync("/auth/attribute"));
        Assert.Equal(expected, await client.GetStringAsync("/auth/optional"));
    }

    /// <summary>Sessions without a subject, cookie or token, are not authenticated; no credential at all is a bare challenge.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ASessionWithoutASubjectIsNotAuthenticated()
    {
        var server = await StartServerAsync();
        using var cookieClient = server.CreateClient();
        await cookieClient.PostAsync("/set/a/1");
        Assert.NotNull(cookieClient.Cookie);
        var anonymousPair = await server.Manager.Tokens.CreateAsync(subject: null);
        using var tokenClient = server.CreateClient();
        tokenClient.AccessToken = anonymousPair.AccessToken;
        using var nobody = server.CreateClient();

        using (var response = await cookieClient.SendAsync(HttpMethod.Get, "/auth/user"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer", Header(response, "WWW-Authenticate"));
        }
        using (var response = await tokenClient.SendAsync(HttpMethod.Get, "/auth/user"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer error=\"invalid_token\", error_description=\"anonymous_session\"", Header(response, "WWW-Authenticate"));
        }
        using (var response = await nobody.SendAsync(HttpMethod.Get, "/auth/user"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer", Header(response, "WWW-Authenticate"));
        }
        Assert.Equal("(anonymous)", await cookieClient.GetStringAsync("/auth/optional"));
        Assert.Equal("(anonymous)", await tokenClient.GetStringAsync("/auth/optional"));
        // Not signed in is not the same as no session: the anonymous token session still keeps data.
        await tokenClient.PostAsync("/set/a/2");
        Assert.Equal("2", await tokenClient.GetStringAsync("/read/a"));
    }

    /// <summary>An authenticated user who fails a policy gets a 403.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AnAuthenticatedUserWhoFailsAPolicyIsForbidden()
    {
        var server = await StartServerAsync();
        var pair = await server.Manager.Tokens.CreateAsync("alice");
        using var client = server.CreateClient();
        client.AccessToken = pair.AccessToken;

        using var response = await client.SendAsync(HttpMethod.Get, "/auth/admin");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    /// <summary>
    /// Refreshing rotates the pair (no-store, the old access token dies); a retry within the grace window gets the same
    /// pair; reusing the old refresh token after it revokes the session, so the newest access token dies too.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task TheRefreshEndpointRotatesAndAReuseAfterTheGraceWindowRevokesTheSession()
    {
        var server = await StartServerAsync();
        var first = await server.Manager.Tokens.CreateAsync("alice");
        using var client = server.CreateClient();

        JsonElement second;
        using (var response = await PostJsonAsync(client, "/tokens/refresh", JsonSerializer.Serialize(new { refreshToken = first.RefreshToken })))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
            Assert.False(response.Headers.Contains("Set-Cookie"));
            second = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        }
        var access = second.GetProperty("accessToken").GetString()!;
        var refresh = second.GetProperty("refreshToken").GetString()!;
        Assert.NotEqual(first.AccessToken, access);
        Assert.NotEqual(first.RefreshToken, refresh);
        Assert.True(second.GetProperty("accessTokenExpiresAt").GetDateTimeOffset() < second.GetProperty("refreshTokenExpiresAt").GetDateTimeOffset());

        client.AccessToken = access;
        Assert.StartsWith("alice|", await client.GetStringAsync("/auth/user"), StringComparison.Ordinal);
        client.AccessToken = first.AccessToken;
        using (var response = await client.SendAsync(HttpMethod.Get, "/auth/user"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Contains("revoked_token", Header(response, "WWW-Authenticate"), StringComparison.Ordinal);
        }

        client.AccessToken = null;
        using (var retry = await PostJsonAsync(client, "/tokens/refresh", JsonSerializer.Serialize(new { refreshToken = first.RefreshToken })))
        {
            Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
            var body = JsonDocument.Parse(await retry.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(access, body.GetProperty("accessToken").GetString());
            Assert.Equal(refresh, body.GetProperty("refreshToken").GetString());
        }

        Clock.Advance(server.Manager.Options.Tokens.ReuseGraceWindow + TimeSpan.FromSeconds(1));
        using (var reuse = await PostJsonAsync(client, "/tokens/refresh", JsonSerializer.Serialize(new { refreshToken = first.RefreshToken })))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, reuse.StatusCode);
            Assert.Equal("Bearer error=\"invalid_token\", error_description=\"refresh_token_reused\"", Header(reuse, "WWW-Authenticate"));
            var problem = JsonDocument.Parse(await reuse.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("refresh_token_reused", problem.GetProperty("reason").GetString());
            Assert.Equal(401, problem.GetProperty("status").GetInt32());
        }
        client.AccessToken = access;
        using (var response = await client.SendAsync(HttpMethod.Get, "/auth/user"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        client.AccessToken = null;
        using (var response = await PostJsonAsync(client, "/tokens/refresh", JsonSerializer.Serialize(new { refreshToken = refresh })))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        foreach (var secret in new[] { first.AccessToken, first.RefreshToken, access, refresh })
        {
            Assert.DoesNotContain(secret, server.Logs.AllText(), StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// The chain walk over HTTP: a client refreshes twice; the first refresh token posted again inside the grace window
    /// gets a 401 <c>refresh_token_reused</c> (neither the dead first successor nor the live pair), the session is
    /// revoked so the live pair stops working, and <see cref="TesseraTokenEvents.OnRefreshTokenReused"/> fires once.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task TheChainWalkWithinTheGraceWindowEndsInARevokedSession()
    {
        var reused = 0;
        var server = await StartTestServerAsync(
            Store,
            o => o.TokenEvents.OnRefreshTokenReused = _ =>
            {
                Interlocked.Increment(ref reused);
                return ValueTask.CompletedTask;
            },
            bearerTokens: true,
            authentication: true);
        var first = await server.Manager.Tokens.CreateAsync("alice");
        using var client = server.CreateClient();
        var second = await RefreshAsync(client, first.RefreshToken);
        Clock.Advance(TimeSpan.FromSeconds(1));
        var third = await RefreshAsync(client, second.RefreshToken);
        Clock.Advance(TimeSpan.FromSeconds(1));

        using (var walk = await PostJsonAsync(client, "/tokens/refresh", JsonSerializer.Serialize(new { refreshToken = first.RefreshToken })))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, walk.StatusCode);
            Assert.Equal("Bearer error=\"invalid_token\", error_description=\"refresh_token_reused\"", Header(walk, "WWW-Authenticate"));
            Assert.DoesNotContain("accessToken", await walk.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Equal(1, Volatile.Read(ref reused));
        client.AccessToken = third.AccessToken;
        using (var response = await client.SendAsync(HttpMethod.Get, "/auth/user"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Contains("revoked_token", Header(response, "WWW-Authenticate"), StringComparison.Ordinal);
        }
        client.AccessToken = null;
        foreach (var stale in new[] { second.RefreshToken, third.RefreshToken })
        {
            using var response = await PostJsonAsync(client, "/tokens/refresh", JsonSerializer.Serialize(new { refreshToken = stale }));
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        Assert.Equal(1, Volatile.Read(ref reused));
    }

    /// <summary>The refresh endpoint answers bad input with a 4xx, never a 500.</summary>
    /// <param name="contentType">The request's content type.</param>
    /// <param name="body">The request body; <c>ACCESS</c> stands for a valid access token.</param>
    /// <param name="status">The expected status.</param>
    /// <returns>A task.</returns>
    [Theory]
    [InlineData("application/json", "{", 400)]
    [InlineData("application/json", "", 400)]
    [InlineData("application/json", "[]", 400)]
    [InlineData("application/json", "{}", 400)]
    [InlineData("application/json", "{\"refreshToken\":42}", 400)]
    [InlineData("text/plain", "{\"refreshToken\":\"x\"}", 415)]
    [InlineData("application/json", "{\"refreshToken\":\"not.a.jwt\"}", 401)]
    [InlineData("application/json", "{\"refreshToken\":\"ACCESS\"}", 401)]
    public async Task TheRefreshEndpointRejectsBadInputWithoutA500(string contentType, string body, int status)
    {
        var server = await StartServerAsync();
        var pair = await server.Manager.Tokens.CreateAsync("alice");
        using var client = server.CreateClient();

        using var response = await client.SendAsync(
            HttpMethod.Post,
            "/tokens/refresh",
            new StringContent(body.Replace("ACCESS", pair.AccessToken, StringComparison.Ordinal), Encoding.UTF8, contentType));

        Assert.Equal(status, (int)response.StatusCode);
        if (status == 401)
        {
            Assert.StartsWith("Bearer error=\"invalid_token\"", Header(response, "WWW-Authenticate"), StringComparison.Ordinal);
        }
        if (body.Contains("ACCESS", StringComparison.Ordinal))
        {
            Assert.Contains("wrong_token_type", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    /// <summary>Logging out revokes the session and every token of it; a missing or bad token is a 401.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task TheLogoutEndpointRevokesTheSession()
    {
        var server = await StartServerAsync();
        var pair = await server.Manager.Tokens.CreateAsync("alice");
        using var client = server.CreateClient();

        using (var response = await client.SendAsync(HttpMethod.Post, "/tokens/logout"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer", Header(response, "WWW-Authenticate"));
        }
        using (var response = await client.SendAsync(HttpMethod.Post, "/tokens/logout", authorization: ["Bearer not.a.jwt"]))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer error=\"invalid_token\", error_description=\"invalid_token\"", Header(response, "WWW-Authenticate"));
        }

        client.AccessToken = pair.AccessToken;
        using (var response = await client.SendAsync(HttpMethod.Post, "/tokens/logout"))
        {
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            Assert.False(response.Headers.Contains("Set-Cookie"));
        }
        using (var response = await client.SendAsync(HttpMethod.Get, "/auth/user"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer error=\"invalid_token\", error_description=\"revoked_token\"", Header(response, "WWW-Authenticate"));
        }
        using (var response = await client.SendAsync(HttpMethod.Post, "/tokens/logout"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        client.AccessToken = null;
        using (var response = await PostJsonAsync(client, "/tokens/refresh", JsonSerializer.Serialize(new { refreshToken = pair.RefreshToken })))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer error=\"invalid_token\", error_description=\"revoked_token\"", Header(response, "WWW-Authenticate"));
        }
    }

    private static async Task<TokenPair> RefreshAsync(CookieClient client, string refreshToken)
    {
        using var response = await PostJsonAsync(client, "/tokens/refresh", JsonSerializer.Serialize(new { refreshToken }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = json.RootElement;
        return new TokenPair(
            root.GetProperty("accessToken").GetString()!,
            root.GetProperty("refreshToken").GetString()!,
            root.GetProperty("accessTokenExpiresAt").GetDateTimeOffset(),
            root.GetProperty("refreshTokenExpiresAt").GetDateTimeOffset(),
            string.Empty);
    }

    private static Task<HttpResponseMessage> PostJsonAsync(CookieClient client, string path, string json) =>
        client.SendAsync(HttpMethod.Post, path, new StringContent(json, Encoding.UTF8, "application/json"));

    /// <summary>
    /// A SignalR connection ticket handed out by one instance opens one WebSocket on another instance over the same
    /// store, and no second one anywhere: the ticket is kept in the store and deleted when redeemed (docs/realtime.md).
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AConnectionTicketFromOneInstanceOpensOneWebSocketOnAnotherAndNoMore()
    {
        await using var first = await StartHubServerAsync();
        await using var second = await StartHubServerAsync();
        var pair = await first.Manager.Tokens.CreateAsync("alice", cancellationToken: TestContext.Current.CancellationToken);
        var (ticket, _, _) = await WebSocketAttempt.NegotiateAsync(first.Address, "/hubs/probe", pair.AccessToken);

        using var onSecond = await WebSocketAttempt.ConnectAsync(second.Address, "/hubs/probe?access_token=" + ticket);
        using var again = await WebSocketAttempt.ConnectAsync(first.Address, "/hubs/probe?access_token=" + ticket);

        Assert.Equal(WebSocketState.Open, onSecond.Socket.State);
        Assert.Equal(HttpStatusCode.Unauthorized, again.Status);
        Assert.Equal(HttpStatusCode.SwitchingProtocols, onSecond.Status);
    }

    private Task<TesseraTestServer> StartHubServerAsync() =>
        TesseraTestServer.StartAsync(Store, Clock, [Key], bearerTokens: true, configureServices: services =>
        {
            ConfigureServices(services);
            services.AddSignalR().AddTesseraSessions();
        }, mapExtraRoutes: app => app.MapHub<ProbeHub>("/hubs/probe"));

    private sealed class ProbeHub : Hub
    {
    }

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.NonValidated.TryGetValues(name, out var values) ? string.Join(", ", values) : string.Empty;
}
