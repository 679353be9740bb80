using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tessera.AspNetCore;
using Tessera.Tokens;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// Races that must not fork or overfill a session, with real parallelism: <see cref="Clients"/> callers are started,
/// wait until every one of them is ready, and are then released at once. Two properties, each through
/// <see cref="SessionManager"/> and over HTTP (a real Kestrel server and one real client per caller):
/// <list type="bullet">
/// <item>refreshes of one refresh token yield exactly one successor pair (every caller that succeeds gets that same
/// pair, through the grace-window retry path) and no leak alarm: no <see cref="TesseraTokenEvents.OnRefreshTokenReused"/>,
/// no leak revocation, no <c>refresh_token_reused</c> metric or warning;</item>
/// <item>sign-ins of one subject under <see cref="TesseraOptions.MaxSessionsPerSubject"/> never leave more live sessions
/// than the limit, under both <see cref="SessionLimitPolicy"/> values, and under
/// <see cref="SessionLimitPolicy.RefuseNewSignIn"/> exactly the limit's number of sign-ins succeed.</item>
/// </list>
/// Inherit it with the <see cref="StoreKit"/> of a store that implements <see cref="ISessionTokenStore"/>,
/// <see cref="ISubjectSessionIndex"/> and <see cref="ISubjectSessionLimiter"/>.
/// </summary>
public abstract partial class ConcurrencyConformanceTests<TKit> : IAsyncLifetime
    where TKit : StoreKit, new()
{
    /// <summary>How many callers race in each test.</summary>
    protected const int Clients = 50;

    /// <summary>The per-subject limit the sign-in races run under.</summary>
    protected const int Limit = 3;

    private readonly List<IAsyncDisposable> _servers = [];

    /// <summary>The clock every store made by <see cref="CreateStore"/> must use; it stands still while the callers race.</summary>
    protected FakeTimeProvider Clock { get; } = new(TestClock.Start);

    /// <summary>The kit that makes this test's stores; disposed (with every store it made) when the test ends.</summary>
    protected TKit Kit { get; } = new();

    /// <summary>Creates an empty store on <see cref="Clock"/> through <see cref="Kit"/>, isolated from every other store it returned.</summary>
    /// <returns>The store; the kit disposes it when the test ends.</returns>
    protected ISessionStore CreateStore() => Kit.CreateStore(Clock);

    /// <summary>The store implements the optional interfaces this suite needs; when it does not, this test names them.</summary>
    [Fact]
    public void TheStoreImplementsWhatThisSuiteNeeds() =>
        StoreCapabilities.AssertImplements(CreateStore(), nameof(ConcurrencyConformanceTests<TKit>), typeof(ISubjectSessionIndex), typeof(ISubjectSessionLimiter), typeof(Tokens.ISessionTokenStore));

    /// <summary>Nothing to prepare.</summary>
    /// <returns>A completed task.</returns>
    public virtual ValueTask InitializeAsync() => ValueTask.CompletedTask;

    /// <summary>Stops every server the test started, then disposes the kit (and every store it made).</summary>
    /// <returns>A task.</returns>
    public virtual async ValueTask DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }
        await Kit.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // One refresh token, many parallel refreshes
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Fifty parallel refreshes of one refresh token through <see cref="SessionManager.Tokens"/>: every one that succeeds
    /// gets one and the same pair, which is the successor the store recorded and works; none is reported as a leak.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task FiftyParallelRefreshesOfOneTokenYieldOneSuccessorAndNoLeakAlarm()
    {
        var alarms = new LeakAlarms();
        using var metrics = new TesseraMetricCollector();
        var logs = new FakeLogCollector();
        var store = CreateStore();
        var manager = NewManager(store, alarms.Watch, metrics, logs);
        var pair = await manager.Tokens.CreateAsync("alice");

        var results = await RaceAsync(_ => manager.Tokens.RefreshAsync(pair.RefreshToken).AsTask());

        var winner = AssertOneSuccessor(results.Select(r => (r.Value, r.Failure)), Clients);
        alarms.AssertNone(metrics, logs);
        alarms.AssertGraceAnswers(results.Count(r => r.Succeeded) - 1, metrics);
        var old = (await Tokens(store).LoadTokenAsync(TokenId(pair.RefreshToken)))!.Token;
        Assert.Equal(TokenId(winner.RefreshToken), old.SuccessorId);
        Assert.Equal("alice", (await manager.Tokens.GetAsync(winner.AccessToken)).Value?.Subject);
        Assert.True((await manager.Tokens.RefreshAsync(winner.RefreshToken)).Succeeded, "the one successor must be a working refresh token");
        AssertNoSecretLogged(logs.AllText(), pair.SessionId, pair.AccessToken, pair.RefreshToken, winner.AccessToken, winner.RefreshToken);
    }

    /// <summary>
    /// Fifty clients post the same refresh token to <c>/tokens/refresh</c> at once: every 200 carries one and the same
    /// pair (no-store), no answer is a 5xx or <c>refresh_token_reused</c>, the session survives, and no leak alarm fires.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task FiftyParallelRefreshRequestsYieldOneSuccessorAndNoLeakAlarm()
    {
        var alarms = new LeakAlarms();
        var server = await StartServerAsync(CreateStore(), alarms.Watch, bearerTokens: true);
        using var metrics = new TesseraMetricCollector(server.Services.GetRequiredService<IMeterFactory>());
        var pair = await server.Manager.Tokens.CreateAsync("alice");
        var body = JsonSerializer.Serialize(new { refreshToken = pair.RefreshToken });

        var answers = await RaceOverHttpAsync(server, async client =>
        {
            using var response = await client.SendAsync(HttpMethod.Post, "/tokens/refresh", new StringContent(body, Encoding.UTF8, "application/json"));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Unauthorized, $"{(int)response.StatusCode}: {text}");
            Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
            using var json = JsonDocument.Parse(text);
            return response.StatusCode == HttpStatusCode.OK
                ? (new TokenPair(Text(json, "accessToken"), Text(json, "refreshToken"), default, default, pair.SessionId), TokenFailure.None)
                : ((TokenPair?)null, TokenFailureFromReason(Text(json, "reason")));
        });

        var winner = AssertOneSuccessor(answers, Clients);
        alarms.AssertNone(metrics, server.Logs);
        alarms.AssertGraceAnswers(answers.Count(a => a.Item1 is not null) - 1, metrics);
        using var client = server.CreateClient();
        client.AccessToken = winner.AccessToken;
        Assert.Equal("alice", await client.GetStringAsync("/whoami"));
        AssertNoSecretLogged(server.Logs.AllText(), pair.SessionId, pair.AccessToken, pair.RefreshToken, winner.AccessToken, winner.RefreshToken);
    }

    /// <summary>
    /// The chain walk, raced: a token session is refreshed twice, then fifty callers present the first refresh token at
    /// once, inside the grace window. Its successor was already rotated, so none of them gets a pair: each is refused
    /// (<c>refresh_token_reused</c>, or <c>revoked_token</c> once the session is gone), the session is revoked once, for
    /// a leak, and the reuse event fires exactly once.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task FiftyParallelPresentationsOfATokenTwoRotationsBehindRevokeTheSessionOnce()
    {
        var alarms = new LeakAlarms();
        using var metrics = new TesseraMetricCollector();
        var store = CreateStore();
        var manager = NewManager(store, alarms.Watch, metrics);
        var first = await manager.Tokens.CreateAsync("alice");
        var second = (await manager.Tokens.RefreshAsync(first.RefreshToken)).Value!;
        var third = (await manager.Tokens.RefreshAsync(second.RefreshToken)).Value!;
        Clock.Advance(TimeSpan.FromSeconds(1));

        var results = await RaceAsync(_ => manager.Tokens.RefreshAsync(first.RefreshToken).AsTask());

        Assert.All(results, r => Assert.True(r.Failure is TokenFailure.RefreshTokenReused or TokenFailure.RevokedToken, $"a presentation ended in {r.Reason}"));
        Assert.Equal(1, alarms.Reuses);
        Assert.Equal(1, metrics.Sum(TesseraMetrics.SessionsRevoked, ("reason", "leak")));
        Assert.Equal(0, alarms.GraceAnswers);
        Assert.Equal(TokenFailure.RevokedToken, (await manager.Tokens.GetAsync(third.AccessToken)).Failure);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Runs <paramref name="action"/> <see cref="Clients"/> times in parallel: every caller is started on the thread pool
    /// and waits until all have arrived, then all are released at once.
    /// </summary>
    /// <typeparam name="T">What each caller returns.</typeparam>
    /// <param name="action">One caller's work, given its index.</param>
    /// <returns>What each caller returned, by index.</returns>
    protected static async Task<T[]> RaceAsync<T>(Func<int, Task<T>> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = 0;
        var callers = Enumerable.Range(0, Clients).Select(i => Task.Run(async () =>
        {
            if (Interlocked.Increment(ref arrived) == Clients)
            {
                start.SetResult();
            }
            await start.Task;
            return await action(i);
        })).ToArray();
        return await Task.WhenAll(callers);
    }

    /// <summary>
    /// Gives each of <see cref="Clients"/> callers its own client of <paramref name="server"/>, opens its connection
    /// (a request to <c>/plain</c>), then runs the callers with <see cref="RaceAsync{T}"/>, so the racing requests reach
    /// the server together rather than behind fifty connection handshakes.
    /// </summary>
    /// <typeparam name="T">What each caller returns.</typeparam>
    /// <param name="server">The server.</param>
    /// <param name="action">One caller's work with its client.</param>
    /// <param name="dispose">Whether to dispose the clients afterwards; <see langword="false"/> when the action keeps them.</param>
    /// <returns>What each caller returned, by index.</returns>
    protected static async Task<T[]> RaceOverHttpAsync<T>(TesseraTestServer server, Func<CookieClient, Task<T>> action, bool dispose = true)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(action);
        var clients = Enumerable.Range(0, Clients).Select(_ => server.CreateClient()).ToArray();
        try
        {
            await Task.WhenAll(clients.Select(c => c.GetStringAsync("/plain")));
            return await RaceAsync(i => action(clients[i]));
        }
        finally
        {
            if (dispose)
            {
                foreach (var client in clients)
                {
                    client.Dispose();
                }
            }
        }
    }

    /// <summary>Starts a server over <paramref name="store"/> on <see cref="Clock"/>; it is stopped when the test ends.</summary>
    /// <param name="store">The store.</param>
    /// <param name="configure">Option changes, or <see langword="null"/>.</param>
    /// <param name="bearerTokens">Whether bearer tokens and the <c>/tokens</c> endpoints are on.</param>
    /// <param name="mapExtraRoutes">More routes, or <see langword="null"/>.</param>
    /// <returns>The server.</returns>
    protected async Task<TesseraTestServer> StartServerAsync(ISessionStore store, Action<TesseraOptions>? configure, bool bearerTokens = false, Action<WebApplication>? mapExtraRoutes = null)
    {
        var server = await TesseraTestServer.StartAsync(store, Clock, [SigningKeyRing.GenerateBase64Key()], configure: configure, mapExtraRoutes: mapExtraRoutes, bearerTokens: bearerTokens);
        _servers.Add(server);
        return server;
    }

    private DateTimeOffset Now()
    {
        var now = Clock.GetUtcNow();
        return new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
    }

    private static ISubjectSessionLimiter Limiter(ISessionStore store) => store as ISubjectSessionLimiter
        ?? throw new Xunit.Sdk.XunitException($"{store.GetType().Name} does not implement ISubjectSessionLimiter.");

    private static async Task<SessionRecord> CreateAsync(ISessionStore store, string subject, DateTimeOffset createdAt)
    {
        var record = new SessionRecord
        {
            Id = Guid.NewGuid().ToString("D"),
            CredentialHash = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32),
            Subject = subject,
            CreatedAt = createdAt,
            LastSeenAt = createdAt,
            IdleExpiresAt = createdAt.AddMinutes(30),
            AbsoluteExpiresAt = createdAt.AddHours(8),
        };
        Assert.True(await store.CreateAsync(record));
        return record;
    }

    private SessionManager NewManager(ISessionStore store, Action<TesseraOptions> configure, TesseraMetricCollector? metrics = null, FakeLogCollector? logs = null)
    {
        var options = new TesseraOptions();
        options.Keys.Add(SigningKeyRing.GenerateBase64Key());
        configure(options);
        var validation = new TesseraOptionsValidator().Validate(null, options);
        if (validation.Failed)
        {
            throw new Xunit.Sdk.XunitException("The test's options are invalid: " + validation.FailureMessage);
        }
#pragma warning disable CA2000 // the factory does not own the provider, and the recorder's factory owns the meter
        var logger = logs is null ? null : LoggerFactory.Create(builder => builder.AddProvider(new FakeLoggerProvider(logs)).SetMinimumLevel(LogLevel.Trace)).CreateLogger<SessionManager>();
        return new SessionManager(store, Options.Create(options), Clock, logger, metrics is null ? null : new TesseraMetrics(metrics.Factory));
#pragma warning restore CA2000
    }

    private static async Task AssertWithinLimitAsync(SessionManager manager, SessionLimitPolicy policy, string?[] accepted, TesseraMetricCollector metrics)
    {
        var live = (await manager.Subjects.ListAsync("alice")).Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(Limit, live.Count);
        var acceptedIds = accepted.OfType<string>().ToList();
        if (policy == SessionLimitPolicy.RefuseNewSignIn)
        {
            // Refused sign-ins are revoked before they are answered, so an accepted one is never revoked afterwards.
            Assert.Equal(Limit, acceptedIds.Count);
            Assert.Equal(live.Order(StringComparer.Ordinal), acceptedIds.Order(StringComparer.Ordinal));
        }
        else
        {
            Assert.Equal(Clients, acceptedIds.Count);
            Assert.Subset(acceptedIds.ToHashSet(StringComparer.Ordinal), live);
        }
        // Every sign-in created one session, and every one that is not live was revoked once, for the limit.
        Assert.Equal(Clients, metrics.Sum(TesseraMetrics.SessionsCreated));
        Assert.Equal(Clients - Limit, metrics.Sum(TesseraMetrics.SessionsRevoked, ("reason", "limit")));
        Assert.Equal(Clients - Limit, metrics.Sum(TesseraMetrics.SessionsRevoked));
    }

    private static TokenPair AssertOneSuccessor(IEnumerable<(TokenPair? Pair, TokenFailure Failure)> results, int expected)
    {
        var all = results.ToList();
        Assert.Equal(expected, all.Count);
        foreach (var (pair, failure) in all)
        {
            // A caller that lost the race either reads the winner's pair (a retry within the grace window) or is refused;
            // it is never told that the token was reused.
            Assert.True(pair is not null || failure == TokenFailure.RevokedToken, $"a refresh failed with {failure}");
        }
        var successes = all.Where(r => r.Pair is not null).Select(r => (r.Pair!.AccessToken, r.Pair.RefreshToken)).ToList();
        Assert.NotEmpty(successes);
        var distinct = successes.Distinct().ToList();
        Assert.True(distinct.Count == 1, $"{distinct.Count} distinct successor pairs among {successes.Count} successful refreshes");
        return all.First(r => r.Pair is not null).Pair!;
    }

    private static void AssertNoSecretLogged(string logText, params string[] secrets)
    {
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(secret, logText, StringComparison.Ordinal);
        }
    }

    private static ISessionTokenStore Tokens(ISessionStore store) => store as ISessionTokenStore
        ?? throw new Xunit.Sdk.XunitException($"{store.GetType().Name} does not implement ISessionTokenStore.");

    private static string TokenId(string jwt)
    {
        var payload = System.Buffers.Text.Base64Url.DecodeFromChars(jwt.Split('.')[1]);
        using var json = JsonDocument.Parse(payload);
        return Text(json, "jti");
    }

    private static string Text(JsonDocument json, string property) => json.RootElement.GetProperty(property).GetString()!;

    private static TokenFailure TokenFailureFromReason(string reason)
    {
        foreach (var failure in Enum.GetValues<TokenFailure>())
        {
            if (failure != TokenFailure.None && failure.ToReason() == reason)
            {
                return failure;
            }
        }
        throw new Xunit.Sdk.XunitException($"unknown token failure reason '{reason}'");
    }

    // Every way a refresh-token leak is reported (the event, the revocation, the metrics and the warning), and the grace
    // answers given instead.
    private sealed class LeakAlarms
    {
        private int _events;
        private int _revocations;
        private int _graceAnswers;

        public int Reuses => Volatile.Read(ref _events);

        public int GraceAnswers => Volatile.Read(ref _graceAnswers);

        public void Watch(TesseraOptions options)
        {
            options.TokenEvents.OnRefreshGraceAnswered = _ =>
            {
                Interlocked.Increment(ref _graceAnswers);
                return ValueTask.CompletedTask;
            };
            options.TokenEvents.OnRefreshTokenReused = _ =>
            {
                Interlocked.Increment(ref _events);
                return ValueTask.CompletedTask;
            };
            options.Events.OnRevoked = _ =>
            {
                Interlocked.Increment(ref _revocations);
                return ValueTask.CompletedTask;
            };
        }

        public void AssertNone(TesseraMetricCollector metrics, FakeLogCollector logs)
        {
            Assert.Equal(0, Volatile.Read(ref _events));
            Assert.Equal(0, Volatile.Read(ref _revocations));
            Assert.Equal(0, metrics.Sum(TesseraMetrics.SessionsRevoked));
            Assert.Equal(0, metrics.Sum(TesseraMetrics.CredentialsRejected, ("reason", TokenFailure.RefreshTokenReused.ToReason())));
            Assert.DoesNotContain(logs.GetSnapshot(), e => e.Id.Id == 1010 || e.Level >= LogLevel.Warning);
        }

        // Every caller but the one that rotated was answered within the grace window: each counted once and reported once.
        public void AssertGraceAnswers(int expected, TesseraMetricCollector metrics)
        {
            Assert.Equal(expected, GraceAnswers);
            Assert.Equal(expected, metrics.Sum(TesseraMetrics.TokensGraceAnswered));
        }
    }

    // What OnRevoked reported (asserted afterwards: an exception in a handler is logged and swallowed).
    private sealed class RevokedSessions
    {
        private readonly List<SessionRevokedEvent> _events = [];

        public bool Contains(string id)
        {
            lock (_events)
            {
                return _events.Any(e => e.SessionId == id);
            }
        }

        public ValueTask Record(SessionRevokedEvent revoked)
        {
            lock (_events)
            {
                _events.Add(revoked);
            }
            return ValueTask.CompletedTask;
        }

        public void AssertEachOnceForTheLimit(int expected)
        {
            lock (_events)
            {
                Assert.Equal(expected, _events.Count);
                Assert.Equal(expected, _events.Select(e => e.SessionId).Distinct(StringComparer.Ordinal).Count());
                Assert.All(_events, e => Assert.Equal((SessionRevocationReason.Limit, "alice"), (e.Reason, e.Subject)));
            }
        }
    }
}
