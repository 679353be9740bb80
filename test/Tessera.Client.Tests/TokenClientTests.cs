using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Tessera.Testing;

namespace Tessera.Client.Tests;

/// <summary>
/// The token client against the real demo app over real HTTP, the server and the client on one fake clock (moved,
/// never slept on). The demo's access tokens live 5 minutes, its grace window for a repeated refresh is 5 seconds.
/// </summary>
public sealed class TokenClientTests : IAsyncLifetime
{
    private static readonly TimeSpan AccessTokenLifetime = TimeSpan.FromMinutes(5);

    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly HttpClient _plain = new();
    private readonly FakeLogCollector _logs = new();
    private DemoApi? _server;

    private DemoApi Server => _server ?? throw new InvalidOperationException("Not started.");

    public async ValueTask InitializeAsync() => _server = await DemoApi.StartAsync(_clock);

    public async ValueTask DisposeAsync()
    {
        _plain.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    [Fact]
    public async Task TheHandlerSendsTheAccessTokenAndDoesNotRefreshAFreshOne()
    {
        var (session, api) = Client();
        using (api)
        {
            await SignInAsync(session, api, "alice");

            Assert.Equal("alice", await UserAsync(api));
            Assert.Equal("alice", await UserAsync(api));
            Assert.Equal(0, Server.RefreshRequests);
        }
    }

    [Fact]
    public async Task AnAccessTokenAboutToExpireIsRefreshedBeforeTheRequestAndTheRotatedPairIsStored()
    {
        var store = new RecordingTokenStore();
        var (session, api) = Client(store);
        using (api)
        {
            var first = await SignInAsync(session, api, "alice");
            Assert.Equal([first], store.Saved);

            // 20 seconds before expiry: inside the default 30-second margin, so the pair is rotated first.
            _clock.Advance(AccessTokenLifetime - TimeSpan.FromSeconds(20));
            Assert.Equal("alice", await UserAsync(api));

            Assert.Equal(1, Server.RefreshRequests);
            var rotated = Assert.Single(store.Saved.Skip(1));
            Assert.NotEqual(first.RefreshToken, rotated.RefreshToken);
            Assert.NotEqual(first.AccessToken, rotated.AccessToken);
            Assert.Equal(rotated, store.Pair);
            Assert.Equal(rotated, await session.GetPairAsync(default));
            Assert.True(rotated.AccessTokenExpiresAt > _clock.GetUtcNow() + TimeSpan.FromMinutes(4));
            // The server rotated it too: the first access token is dead.
            Assert.Equal(HttpStatusCode.Unauthorized, await MeWithAsync(first.AccessToken));
            // And the new one is fresh: no more refreshes.
            Assert.Equal("alice", await UserAsync(api));
            Assert.Equal(1, Server.RefreshRequests);
        }
    }

    [Fact]
    public async Task ARefreshThatCannotReachTheServerKeepsThePairAndTheRequestGoesOnWithTheCurrentToken()
    {
        // A refresh endpoint nobody listens on (a port just freed): connection refused, a transient failure.
        var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var closedPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var store = new RecordingTokenStore();
        var (session, api) = Client(store, refreshEndpoint: new Uri($"http://127.0.0.1:{closedPort}/api/refresh"));
        var ends = 0;
        session.SessionEnded += (_, _) => ends++;
        using (api)
        {
            var first = await SignInAsync(session, api, "alice");
            _clock.Advance(AccessTokenLifetime - TimeSpan.FromSeconds(20));

            // Inside the margin but not yet expired: the old token still works.
            Assert.Equal("alice", await UserAsync(api));
            Assert.Equal(first, await session.GetPairAsync(default));
            Assert.Equal([first], store.Saved);
            Assert.Equal(0, ends);
            Assert.Null(session.Ended);
            Assert.Contains(_logs.GetSnapshot(), record => record.Id.Id == 6003);
        }
    }

    [Fact]
    public async Task FiftyParallelRequestsAcrossExpiryCauseExactlyOneRefresh()
    {
        var (session, api) = Client();
        using (api)
        {
            await SignInAsync(session, api, "alice");
            _clock.Advance(AccessTokenLifetime + TimeSpan.FromMinutes(1));

            var users = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => UserAsync(api)));

            Assert.All(users, user => Assert.Equal("alice", user));
            Assert.Equal(1, Server.RefreshRequests);
        }
    }

    [Fact]
    public async Task A401WithInvalidTokenRefreshesOnceAndRetriesThePostWithItsJsonBodyIntact()
    {
        using (var api = await SignedInBehindTheServersClockAsync())
        {
            using var response = await api.PostAsJsonAsync("/api/cart", new { item = "apple" });

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(["apple"], Items(await response.Content.ReadFromJsonAsync<JsonElement>()));
            Assert.Equal(1, Server.RefreshRequests);
            // Once in the cart: the rejected first attempt never reached the handler.
            Assert.Equal(["apple"], Items(await api.GetFromJsonAsync<JsonElement>("/api/cart")));
        }
    }

    [Fact]
    public async Task A401WithInvalidTokenRetriesAForwardOnlyStreamBodyOfKnownLengthFromItsBuffer()
    {
        using (var api = await SignedInBehindTheServersClockAsync())
        {
            // A stream that cannot be read twice, with its length given (an upload of a known size): only the buffer
            // taken before the first send can feed the retry.
            var body = Encoding.UTF8.GetBytes("""{"item":"pear"}""");
            using var content = new StreamContent(new ForwardOnlyStream(body));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            content.Headers.ContentLength = body.Length;
            using var response = await api.PostAsync("/api/cart", content);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(["pear"], Items(await response.Content.ReadFromJsonAsync<JsonElement>()));
            Assert.Equal(1, Server.RefreshRequests);
        }
    }

    [Fact]
    public async Task A401ForABodyOfUnknownLengthRefreshesButReturnsThe401InsteadOfResendingAConsumedStream()
    {
        using (var api = await SignedInBehindTheServersClockAsync())
        {
            using var content = new StreamContent(new ForwardOnlyStream(Encoding.UTF8.GetBytes("""{"item":"plum"}""")));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using (var response = await api.PostAsync("/api/cart", content))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            }

            // The pair was refreshed all the same: the caller's second try goes through with the new token.
            Assert.Equal(1, Server.RefreshRequests);
            Assert.Equal("alice", await UserAsync(api));
            Assert.Empty(Items(await api.GetFromJsonAsync<JsonElement>("/api/cart")));
        }
    }

    [Fact]
    public async Task ReplayingARotatedRefreshTokenEndsTheSessionWithTypedReasonsAndNoRefreshLoop()
    {
        var store = new RecordingTokenStore();
        var (session, api) = Client(store);
        var ends = new List<TesseraSessionEndedEventArgs>();
        session.SessionEnded += (_, e) => ends.Add(e);
        using (api)
        {
            var first = await SignInAsync(session, api, "alice");
            // Someone else holds a copy of the first pair: another client state, as a thief or a forked client would.
            var (copy, copyApi) = Client(new RecordingTokenStore(first));
            var copyEnds = new List<TesseraSessionEndedEventArgs>();
            copy.SessionEnded += (_, e) => copyEnds.Add(e);
            using (copyApi)
            {
                _clock.Advance(AccessTokenLifetime - TimeSpan.FromSeconds(20));
                Assert.Equal("alice", await UserAsync(api));
                Assert.Equal(1, Server.RefreshRequests);

                // Past the 5-second grace window, the copy presents the rotated refresh token: the server revokes the
                // whole session and says why.
                _clock.Advance(TimeSpan.FromSeconds(10));
                Assert.Equal(HttpStatusCode.Unauthorized, await MeStatusAsync(copyApi));
                Assert.Equal(2, Server.RefreshRequests);
                var copyEnded = Assert.Single(copyEnds);
                Assert.Equal(TesseraSessionEndReason.RefreshTokenReused, copyEnded.Reason);
                Assert.Equal("refresh_token_reused", copyEnded.ServerReason);
                Assert.Equal(401, copyEnded.StatusCode);
                Assert.Same(copyEnded, copy.Ended);
                Assert.Null(await copy.GetPairAsync(default));

                // The rightful client's access token died with the session: its 401 leads to one refresh, which the
                // server refuses, and the client reports the end.
                Assert.Equal(HttpStatusCode.Unauthorized, await MeStatusAsync(api));
                Assert.Equal(3, Server.RefreshRequests);
                var ended = Assert.Single(ends);
                Assert.Equal(TesseraSessionEndReason.Revoked, ended.Reason);
                Assert.Equal("revoked_token", ended.ServerReason);
                Assert.Null(store.Pair);
                Assert.Equal(1, store.Clears);

                // No loop: further requests go out without a token and cause no refresh, whatever the clock says.
                for (var i = 0; i < 5; i++)
                {
                    _clock.Advance(TimeSpan.FromMinutes(6));
                    using var anonymous = await api.GetAsync("/api/me");
                    Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
                    Assert.Null(anonymous.RequestMessage!.Headers.Authorization);
                    Assert.Equal(HttpStatusCode.Unauthorized, await MeStatusAsync(copyApi));
                }
                Assert.Equal(3, Server.RefreshRequests);
                Assert.Single(ends);
                Assert.Single(copyEnds);

                // Signing in again starts over.
                await SignInAsync(session, api, "alice");
                Assert.Null(session.Ended);
                Assert.Equal("alice", await UserAsync(api));
            }

            // Secrets never reach a log line: the end is logged by reason only.
            var text = string.Join('\n', _logs.GetSnapshot().Select(record => record.Message + " " + record.Exception));
            Assert.Contains(_logs.GetSnapshot(), record => record.Id.Id == 6004);
            foreach (var token in store.Saved.SelectMany(pair => new[] { pair.AccessToken, pair.RefreshToken }))
            {
                Assert.DoesNotContain(token, text, StringComparison.Ordinal);
                Assert.DoesNotContain(token, store.Saved[0].ToString(), StringComparison.Ordinal);
            }
        }
    }

    private (TesseraTokenSession Session, HttpClient Api) Client(ITesseraTokenStore? store = null, TimeProvider? clock = null, Uri? refreshEndpoint = null)
    {
        var options = new TesseraTokenClientOptions { RefreshEndpoint = refreshEndpoint ?? Server.RefreshEndpoint };
        using var loggers = LoggerFactory.Create(logging => logging.AddProvider(new FakeLoggerProvider(_logs)).SetMinimumLevel(LogLevel.Debug));
        var session = new TesseraTokenSession(options, _plain, store, clock ?? _clock, loggers.CreateLogger<TesseraTokenSession>());
        var api = new HttpClient(new TesseraTokenHandler(session) { InnerHandler = new SocketsHttpHandler() }) { BaseAddress = Server.BaseAddress };
        return (session, api);
    }

    /// <summary>
    /// A client signed in on a device whose clock then falls 10 minutes behind the server's: the client believes its
    /// token is fresh, the server says it expired (401, error="invalid_token"). Only the 401 path can save its requests.
    /// </summary>
    private async Task<HttpClient> SignedInBehindTheServersClockAsync()
    {
        var (session, api) = Client(clock: new FakeTimeProvider(_clock.GetUtcNow()));
        await SignInAsync(session, api, "alice");
        _clock.Advance(TimeSpan.FromMinutes(10));
        return api;
    }

    private static async Task<TesseraTokenPair> SignInAsync(TesseraTokenSession session, HttpClient api, string user)
    {
        using var response = await api.PostAsJsonAsync("/api/login", new { user });
        return await session.SignInAsync(response, default);
    }

    private static async Task<string?> UserAsync(HttpClient api) =>
        (await api.GetFromJsonAsync<JsonElement>("/api/me")).GetProperty("user").GetString();

    private static async Task<HttpStatusCode> MeStatusAsync(HttpClient api)
    {
        using var response = await api.GetAsync("/api/me");
        return response.StatusCode;
    }

    private async Task<HttpStatusCode> MeWithAsync(string accessToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Server.BaseAddress, "/api/me"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        using var response = await _plain.SendAsync(request);
        return response.StatusCode;
    }

    private static string[] Items(JsonElement cart) => [.. cart.GetProperty("items").EnumerateArray().Select(item => item.GetString() ?? "(null)")];

    /// <summary>A body that can be read once, front to back, with no length: a network or pipe stream.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override long Seek(long offset, SeekOrigin loc) => throw new NotSupportedException();
    }
}
