using Microsoft.Extensions.Logging.Testing;
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// The events-and-metrics conformance suite: inherit it with your store's <see cref="StoreKit"/>, and every lifecycle event
/// (created, signed in, revoked with each reason, expired, refresh-token reuse), every metric of
/// <see cref="TesseraMetrics"/> and the store health check are tested over your store, through
/// <see cref="SessionManager"/> and over HTTP on a real Kestrel server.
/// </summary>
/// <remarks>
/// The store must implement <see cref="ISubjectSessionIndex"/>, <see cref="Tokens.ISessionTokenStore"/> and
/// <see cref="ISessionStoreCleanup"/> (all of Tessera's stores do). Metrics are read with a <see cref="TesseraMetricCollector"/>
/// bound to one meter factory per test, so parallel tests never see each other's measurements.
/// </remarks>
public abstract class SessionTelemetryConformanceTests<TKit> : StoreKitTests<TKit>
    where TKit : StoreKit, new()
{
    /// <summary>The store implements the optional interfaces this suite needs; when it does not, this test names them.</summary>
    [Fact]
    public void TheStoreImplementsWhatThisSuiteNeeds() =>
        StoreCapabilities.AssertImplements(CreateStore(), nameof(SessionTelemetryConformanceTests<TKit>), typeof(ISessionStoreCleanup), typeof(ISubjectSessionIndex), typeof(Tokens.ISessionTokenStore));

    /// <summary>
    /// Creating a session raises <c>OnCreated</c> once with its id, no subject and no credential, and counts
    /// <c>tessera.sessions.created</c> with <c>transport=cookie</c>; the store calls are timed under the store's type name.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task CreatingACookieSessionRaisesCreatedOnceAndIsMeasured()
    {
        using var h = NewHarness();

        var session = h.Manager.Open(null);
        await session.LoadAsync();
        session.Set("cart", "apple");
        var result = await session.CommitAsync();

        var created = Assert.IsType<SessionCreatedEvent>(Assert.Single(h.Events));
        Assert.Equal(result.SessionId, created.SessionId);
        Assert.Null(created.Subject);
        Assert.Equal(SessionCredentialKind.Cookie, created.CredentialKind);
        Assert.Equal(Clock.GetUtcNow(), created.Time, TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, h.Metrics.Sum(TesseraMetrics.SessionsCreated, ("transport", "cookie")));
        var create = Assert.Single(h.Metrics.StoreOperationDuration.Matching(("store", h.StoreName), ("operation", "create")));
        Assert.True(create.Value >= 0);
        h.AssertNoSecret(result.Credential!);
    }

    /// <summary>
    /// Signing in on a new session raises created then signed in; signing in again on it raises signed in only, with the
    /// previous subject, and reading the session with its cookie is timed as <c>load_by_credential</c>.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task SigningInRaisesSignedInOnceWithThePreviousSubject()
    {
        using var h = NewHarness();

        var first = h.Manager.Open(null);
        await first.LoadAsync();
        first.SignIn("alice");
        var issued = await first.CommitAsync();
        var second = h.Manager.Open(issued.Credential);
        await second.LoadAsync();
        second.SignIn("bob");
        var regenerated = await second.CommitAsync();

        Assert.Collection(
            h.Events,
            e => Assert.Equal("alice", Assert.IsType<SessionCreatedEvent>(e).Subject),
            e =>
            {
                var signedIn = Assert.IsType<SessionSignedInEvent>(e);
                Assert.Equal(("alice", (string?)null), (signedIn.Subject, signedIn.PreviousSubject));
            },
            e =>
            {
                var signedIn = Assert.IsType<SessionSignedInEvent>(e);
                Assert.Equal(("bob", "alice"), (signedIn.Subject, signedIn.PreviousSubject));
                Assert.Equal(issued.SessionId, signedIn.SessionId);
            });
        Assert.Equal(2, h.Metrics.Sum(TesseraMetrics.SessionsSignedIn, ("transport", "cookie")));
        Assert.Equal(1, h.Metrics.Sum(TesseraMetrics.SessionsCreated));
        Assert.Single(h.Metrics.StoreOperationDuration.Matching(("store", h.StoreName), ("operation", "load_by_credential")));
        Assert.Single(h.Metrics.StoreOperationDuration.Matching(("store", h.StoreName), ("operation", "apply")));
        h.AssertNoSecret(issued.Credential!);
        h.AssertNoSecret(regenerated.Credential!);
    }

    /// <summary>A plain regenerate is a credential rotation, not a lifecycle change: it raises nothing.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task APlainRegenerateRaisesNothing()
    {
        using var h = NewHarness();
        var credential = await h.CreateSessionAsync("alice");
        h.ClearEvents();

        var session = h.Manager.Open(credential);
        await session.LoadAsync();
        session.Regenerate();
        await session.CommitAsync();

        Assert.Empty(h.Events);
    }

    /// <summary>Signing out raises revoked once with <c>sign_out</c>, the subject and metadata; it is counted by reason.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task SigningOutRaisesRevokedOnceWithTheSignOutReason()
    {
        using var h = NewHarness();
        var credential = await h.CreateSessionAsync("alice", new SessionMetadata("Firefox", "192.0.2.7", null));
        h.ClearEvents();

        var session = h.Manager.Open(credential);
        await session.LoadAsync();
        var id = session.Id;
        session.SignOut();
        await session.CommitAsync();
        Assert.False(await h.Manager.RevokeAsync(id)); // already revoked: nothing more

        var revoked = Assert.IsType<SessionRevokedEvent>(Assert.Single(h.Events));
        Assert.Equal((id, "alice", SessionRevocationReason.SignOut), (revoked.SessionId, revoked.Subject, revoked.Reason));
        Assert.Equal("Firefox", revoked.Metadata.UserAgent);
        Assert.Equal(1, h.Metrics.Sum(TesseraMetrics.SessionsRevoked, ("reason", "sign_out")));
        Assert.Equal(1, h.Metrics.Sum(TesseraMetrics.SessionsRevoked));
        h.AssertNoSecret(credential);
    }

    /// <summary>
    /// Revoking by id is <c>operator</c> (the subject is read first for the event); a user's revoke of one device, of
    /// every other device and of all devices is <c>user</c>. Each session raises once.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task OperatorAndUserRevocationsCarryTheirReasons()
    {
        using var h = NewHarness();
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var session = h.Manager.Open(await h.CreateSessionAsync("alice"));
            await session.LoadAsync();
            ids.Add(session.Id);
        }
        h.ClearEvents();

        Assert.True(await h.Manager.RevokeAsync(ids[0]));
        Assert.Equal(SubjectSessionRevocation.Revoked, await h.Manager.Subjects.RevokeAsOperatorAsync(ids[1]));
        Assert.Equal(SubjectSessionRevocation.Revoked, await h.Manager.Subjects.RevokeAsync("alice", ids[2]));
        Assert.Equal(1, await h.Manager.Subjects.RevokeOthersAsync("alice", ids[4]));
        Assert.Equal(1, await h.Manager.Subjects.RevokeAllAsync("alice"));

        var revoked = h.Events.Cast<SessionRevokedEvent>().ToList();
        Assert.Equal(ids, revoked.Select(e => e.SessionId));
        Assert.All(revoked, e => Assert.Equal("alice", e.Subject));
        Assert.Equal(
            [SessionRevocationReason.Operator, SessionRevocationReason.Operator, SessionRevocationReason.User, SessionRevocationReason.User, SessionRevocationReason.User],
            revoked.Select(e => e.Reason));
        Assert.Equal(2, h.Metrics.Sum(TesseraMetrics.SessionsRevoked, ("reason", "operator")));
        Assert.Equal(3, h.Metrics.Sum(TesseraMetrics.SessionsRevoked, ("reason", "user")));
        Assert.NotEmpty(h.Metrics.StoreOperationDuration.Matching(("store", h.StoreName), ("operation", "list_by_subject")));
        Assert.Equal(5, h.Metrics.StoreOperationDuration.Matching(("store", h.StoreName), ("operation", "revoke")).Count);
    }

    /// <summary>
    /// A token session created with a subject raises created and signed in with the bearer transport; a reused rotated
    /// refresh token revokes it with <c>leak</c>, still calls the existing reuse hook once, and counts a rejected token
    /// with <c>refresh_token_reused</c>; a token logout is <c>sign_out</c>.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TokenSessionsRaiseCreatedSignedInAndLeakOnRefreshReuse()
    {
        var reuses = new ConcurrentQueue<Tokens.RefreshTokenReuseContext>();
        using var h = NewHarness(o => o.TokenEvents.OnRefreshTokenReused = context =>
        {
            reuses.Enqueue(context);
            return ValueTask.CompletedTask;
        });

        var pair = await h.Manager.Tokens.CreateAsync("alice");
        var rotated = await h.Manager.Tokens.RefreshAsync(pair.RefreshToken);
        Assert.True(rotated.Succeeded, rotated.Reason);
        Clock.Advance(TimeSpan.FromMinutes(1));
        var reuse = await h.Manager.Tokens.RefreshAsync(pair.RefreshToken);
        Assert.Equal(Tokens.TokenFailure.RefreshTokenReused, reuse.Failure);
        var other = await h.Manager.Tokens.CreateAsync(null);
        Assert.True((await h.Manager.Tokens.InvalidateAsync(other.AccessToken)).Succeeded);

        Assert.Collection(
            h.Events,
            e => Assert.Equal(SessionCredentialKind.AccessToken, Assert.IsType<SessionCreatedEvent>(e).CredentialKind),
            e => Assert.Equal("alice", Assert.IsType<SessionSignedInEvent>(e).Subject),
            e => Assert.Equal((pair.SessionId, SessionRevocationReason.Leak), (Assert.IsType<SessionRevokedEvent>(e).SessionId, ((SessionRevokedEvent)e).Reason)),
            e => Assert.Null(Assert.IsType<SessionCreatedEvent>(e).Subject),
            e => Assert.Equal((other.SessionId, SessionRevocationReason.SignOut), (Assert.IsType<SessionRevokedEvent>(e).SessionId, ((SessionRevokedEvent)e).Reason)));
        Assert.Equal(pair.SessionId, Assert.Single(reuses).SessionId);
        Assert.Equal(2, h.Metrics.Sum(TesseraMetrics.SessionsCreated, ("transport", "bearer")));
        Assert.Equal(1, h.Metrics.Sum(TesseraMetrics.SessionsRevoked, ("reason", "leak")));
        Assert.Equal(1, h.Metrics.Sum(TesseraMetrics.CredentialsRejected, ("kind", "token"), ("reason", "refresh_token_reused")));
        // A store that rotates in one call (TryRotateAsync) measures the refresh and the reuse's attempt as try_rotate;
        // any other store measures the one rotation as rotate.
        var tryRotations = h.Metrics.StoreOperationDuration.Matching(("store", h.StoreName), ("operation", "try_rotate"));
        var rotations = h.Metrics.StoreOperationDuration.Matching(("store", h.StoreName), ("operation", "rotate"));
        Assert.True(tryRotations.Count == 0 ? rotations.Count == 1 : tryRotations.Count == 2 && rotations.Count == 0, $"rotate {rotations.Count}, try_rotate {tryRotations.Count}");
        Assert.NotEmpty(h.Metrics.StoreOperationDuration.Matching(("store", h.StoreName), ("operation", "create_tokens")));
        Assert.NotEmpty(h.Metrics.StoreOperationDuration.Matching(("store", h.StoreName), ("operation", "load_token")));
        foreach (var secret in new[] { pair.AccessToken, pair.RefreshToken, rotated.Value!.AccessToken, rotated.Value.RefreshToken, other.AccessToken })
        {
            h.AssertNoSecret(secret);
        }
    }

    /// <summary>
    /// Cleanup of expired sessions raises expired with the count deleted (stores delete in bulk and do not name them)
    /// and adds it to <c>tessera.sessions.expired</c>; a later run with nothing to delete raises nothing.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task CleanupRaisesExpiredWithTheCountItDeleted()
    {
        using var h = NewHarness();
        for (var i = 0; i < 3; i++)
        {
            await h.CreateSessionAsync(null);
        }
        h.ClearEvents();
        Clock.Advance(h.Options.IdleTimeout + TimeSpan.FromMinutes(1));
        var cleanup = new SessionCleanupService(h.Store, Options.Create(h.Options), Clock, null, h.TesseraMetrics);

        Assert.Equal(3, await cleanup.RunOnceAsync());
        Assert.Equal(0, await cleanup.RunOnceAsync());

        var expired = Assert.IsType<SessionsExpiredEvent>(Assert.Single(h.Events));
        Assert.Equal(3, expired.Count);
        Assert.Equal(3, h.Metrics.Sum(TesseraMetrics.SessionsExpired));
        Assert.Equal(2, h.Metrics.StoreOperationDuration.Matching(("store", h.StoreName), ("operation", "delete_expired")).Count);
    }

    /// <summary>A handler that throws is logged and swallowed: the session is created and signed in all the same.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AThrowingHandlerNeverChangesTheSessionDecision()
    {
        using var h = NewHarness(o =>
        {
            o.Events.OnCreated = _ => throw new InvalidOperationException("audit log down");
            o.Events.OnRevoked = _ => ValueTask.FromException(new InvalidOperationException("audit log down"));
        });

        var credential = await h.CreateSessionAsync("alice");
        var session = h.Manager.Open(credential);
        await session.LoadAsync();
        Assert.Equal("alice", session.Subject);
        var id = session.Id;
        session.SignOut();
        var result = await session.CommitAsync();

        Assert.Equal(CredentialChange.Clear, result.Change);
        Assert.Equal(2, h.Logs.GetSnapshot().Count(e => e.Id.Id == 1011));
        Assert.Null(await h.Store.LoadAsync(id));
    }

    /// <summary>
    /// A tampered cookie is counted as <c>bad_signature</c>, a well-signed cookie of no live session as
    /// <c>no_live_session</c>, both with <c>kind=cookie</c>, over HTTP.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task RejectedCookiesAreCountedByReasonOverHttp()
    {
        var events = new ConcurrentQueue<object>();
        await using var server = await TesseraTestServer.StartAsync(CreateStore(), Clock, [SigningKeyRing.GenerateBase64Key()], configure: o => Record(o, events));
        using var metrics = new TesseraMetricCollector(server.Services.GetRequiredService<IMeterFactory>());
        using var client = server.CreateClient();
        Assert.Equal("ok", await client.PostAsync("/signin/alice"));
        var cookie = client.Cookie!;

        client.Cookie = cookie[..^2] + (cookie[^2] == 'A' ? "B" : "A") + cookie[^1];
        Assert.Equal("(anonymous)", await client.GetStringAsync("/whoami"));
        client.Cookie = cookie;
        Assert.Equal("ok", await client.PostAsync("/destroy"));
        client.Cookie = cookie; // replayed after sign-out: well signed, but no live session has it
        Assert.Equal("(anonymous)", await client.GetStringAsync("/whoami"));

        Assert.Equal(1, metrics.Sum(TesseraMetrics.CredentialsRejected, ("kind", "cookie"), ("reason", "bad_signature")));
        Assert.Equal(1, metrics.Sum(TesseraMetrics.CredentialsRejected, ("kind", "cookie"), ("reason", "no_live_session")));
        Assert.Equal(1, metrics.Sum(TesseraMetrics.SessionsCreated, ("transport", "cookie")));
        Assert.Equal(1, metrics.Sum(TesseraMetrics.SessionsSignedIn, ("transport", "cookie")));
        Assert.Equal(1, metrics.Sum(TesseraMetrics.SessionsRevoked, ("reason", "sign_out")));
        Assert.Equal([typeof(SessionCreatedEvent), typeof(SessionSignedInEvent), typeof(SessionRevokedEvent)], events.Select(e => e.GetType()));
        Assert.All(metrics.AllTags, tags => Assert.DoesNotContain(tags.Values, v => v is string s && (s.Contains(cookie, StringComparison.Ordinal) || s == "alice")));
    }

    /// <summary>A bad bearer token is counted with <c>kind=token</c> and its stable reason, over HTTP.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task RejectedBearerTokensAreCountedByReasonOverHttp()
    {
        await using var server = await TesseraTestServer.StartAsync(CreateStore(), Clock, [SigningKeyRing.GenerateBase64Key()], bearerTokens: true);
        using var metrics = new TesseraMetricCollector(server.Services.GetRequiredService<IMeterFactory>());
        using var http = new HttpClient { BaseAddress = server.Address };
        var pair = await server.Manager.Tokens.CreateAsync("alice");

        using var garbage = new HttpRequestMessage(HttpMethod.Get, "/whoami");
        garbage.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "not.a.jwt");
        Assert.Equal("(anonymous)", await (await http.SendAsync(garbage)).Content.ReadAsStringAsync());
        using var good = new HttpRequestMessage(HttpMethod.Get, "/whoami");
        good.Headers.Authorization = new AuthenticationHeaderValue("Bearer", pair.AccessToken);
        Assert.Equal("alice", await (await http.SendAsync(good)).Content.ReadAsStringAsync());

        Assert.Equal(1, metrics.Sum(TesseraMetrics.CredentialsRejected, ("kind", "token"), ("reason", "invalid_token")));
        Assert.Equal(1, metrics.Sum(TesseraMetrics.CredentialsRejected));
        Assert.All(metrics.AllTags, tags => Assert.DoesNotContain(tags.Values, v => v is string s && s.Contains(pair.AccessToken, StringComparison.Ordinal)));
    }

    /// <summary><c>AddHealthChecks().AddTesseraStore()</c> reports the store Healthy, naming only its type.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TheStoreHealthCheckIsHealthy()
    {
        var store = CreateStore();
        var services = new ServiceCollection().AddLogging().AddSingleton(store);
        services.AddHealthChecks().AddTesseraStore();
        await using var provider = services.BuildServiceProvider();

        var report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        var entry = Assert.Single(report.Entries);
        Assert.Equal("tessera-store", entry.Key);
        Assert.Equal(HealthStatus.Healthy, entry.Value.Status);
        Assert.Contains(store.GetType().Name, entry.Value.Description, StringComparison.Ordinal);
    }

    private static void Record(TesseraOptions options, ConcurrentQueue<object> events)
    {
        options.Events.OnCreated = e => Add(events, e);
        options.Events.OnSignedIn = e => Add(events, e);
        options.Events.OnRevoked = e => Add(events, e);
        options.Events.OnExpired = e => Add(events, e);
    }

    private static ValueTask Add(ConcurrentQueue<object> events, object e)
    {
        events.Enqueue(e);
        return ValueTask.CompletedTask;
    }

    private Harness NewHarness(Action<TesseraOptions>? configure = null)
    {
        var options = new TesseraOptions();
        options.Keys.Add(SigningKeyRing.GenerateBase64Key());
        var events = new ConcurrentQueue<object>();
        Record(options, events);
        configure?.Invoke(options);
        var store = CreateStore();
        var recorder = new TesseraMetricCollector();
        var metrics = new TesseraMetrics(recorder.Factory);
        var logs = new FakeLogCollector();
        var manager = new SessionManager(store, Options.Create(options), Clock, new Logger<SessionManager>(new LoggerFactory([new FakeLoggerProvider(logs)])), metrics);
        return new Harness(store, options, manager, recorder, metrics, events, logs);
    }

    private sealed class Harness(
        ISessionStore store,
        TesseraOptions options,
        SessionManager manager,
        TesseraMetricCollector metrics,
        TesseraMetrics tesseraMetrics,
        ConcurrentQueue<object> events,
        FakeLogCollector logs) : IDisposable
    {
        private readonly ConcurrentQueue<object> _events = events;

        public ISessionStore Store { get; } = store;

        public string StoreName => Store.GetType().Name;

        public TesseraOptions Options { get; } = options;

        public SessionManager Manager { get; } = manager;

        public TesseraMetricCollector Metrics { get; } = metrics;

        public TesseraMetrics TesseraMetrics { get; } = tesseraMetrics;

        public FakeLogCollector Logs { get; } = logs;

        public IReadOnlyList<object> Events => [.. _events];

        public void ClearEvents() => _events.Clear();

        public async Task<string> CreateSessionAsync(string? subject, SessionMetadata? metadata = null)
        {
            var session = Manager.Open(null, metadata);
            await session.LoadAsync();
            session.Set("n", 1);
            if (subject is not null)
            {
                session.SignIn(subject);
            }
            var result = await session.CommitAsync();
            Assert.Equal(CredentialChange.Issue, result.Change);
            return result.Credential!;
        }

        /// <summary>No event, log line or metric tag carries the secret.</summary>
        public void AssertNoSecret(string secret)
        {
            Assert.All(Events, e => Assert.DoesNotContain(secret, e.ToString(), StringComparison.Ordinal));
            Assert.DoesNotContain(secret, Logs.AllText(), StringComparison.Ordinal);
            Assert.All(Metrics.AllTags, tags => Assert.DoesNotContain(tags.Values, v => v is string s && s.Contains(secret, StringComparison.Ordinal)));
        }

        public void Dispose()
        {
            Metrics.Dispose();
        }
    }
}
