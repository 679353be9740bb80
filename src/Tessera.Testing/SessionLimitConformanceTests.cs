using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using Tessera.Tokens;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// The per-subject session limit (<see cref="TesseraOptions.MaxSessionsPerSubject"/>) driven through
/// <see cref="SessionManager"/>: cookie sign-ins, token sign-ins, events and metrics. Inherit it and implement
/// <see cref="StoreKitTests{TKit}.CreateStore"/> with a store that implements <see cref="ISubjectSessionLimiter"/>.
/// </summary>
public abstract class SessionLimitConformanceTests<TKit> : StoreKitTests<TKit>
    where TKit : StoreKit, new()
{
    /// <summary>The store implements the optional interfaces this suite needs; when it does not, this test names them.</summary>
    [Fact]
    public void TheStoreImplementsWhatThisSuiteNeeds() =>
        StoreCapabilities.AssertImplements(CreateStore(), nameof(SessionLimitConformanceTests<TKit>), typeof(ISubjectSessionIndex), typeof(ISubjectSessionLimiter), typeof(Tokens.ISessionTokenStore));

    /// <summary>A cookie sign-in beyond the limit revokes the least recently used session and keeps the new one.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ACookieSignInBeyondTheLimitRevokesTheLeastRecentlyUsedSession()
    {
        var revokedEvents = new List<SessionRevokedEvent>();
        using var meters = TestMeters.CreateFactory();
        using var revokedCount = TestMeters.Collect(meters, TesseraMetrics.SessionsRevoked);
        var manager = NewManager(2, SessionLimitPolicy.RevokeLeastRecentlyUsed, revokedEvents, meters);
        var first = await SignInAsync(manager, "alice", new SessionMetadata("Firefox"));
        Clock.Advance(TimeSpan.FromMinutes(2));
        var second = await SignInAsync(manager, "alice");
        Clock.Advance(TimeSpan.FromMinutes(2));
        await UseAsync(manager, first.Credential!); // first is now more recently seen than second
        Clock.Advance(TimeSpan.FromMinutes(2));

        var third = await SignInAsync(manager, "alice");

        Assert.Equal(CredentialChange.Issue, third.Change);
        Assert.Null(await manager.Store.LoadAsync(second.SessionId!));
        Assert.NotNull(await manager.Store.LoadAsync(first.SessionId!));
        Assert.NotNull(await manager.Store.LoadAsync(third.SessionId!));
        var revoked = Assert.Single(revokedEvents);
        Assert.Equal((second.SessionId, "alice", SessionRevocationReason.Limit), (revoked.SessionId, revoked.Subject, revoked.Reason));
        Assert.Equal(1, revokedCount.Sum(("reason", "limit")));
        Assert.Equal(2, (await manager.Subjects.ListAsync("alice")).Count);
    }

    /// <summary>With <see cref="SessionLimitPolicy.RefuseNewSignIn"/>, the newcomer ends anonymous and the others stay.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task RefuseNewSignInLeavesTheNewcomerAnonymousAndKeepsTheOthers()
    {
        var revokedEvents = new List<SessionRevokedEvent>();
        var signedIn = 0;
        using var meters = TestMeters.CreateFactory();
        using var revokedCount = TestMeters.Collect(meters, TesseraMetrics.SessionsRevoked);
        var manager = NewManager(1, SessionLimitPolicy.RefuseNewSignIn, revokedEvents, meters, () => signedIn++);
        var first = await SignInAsync(manager, "alice");
        Clock.Advance(TimeSpan.FromMinutes(1));

        var session = manager.Open(null, new SessionMetadata("Safari"));
        await session.LoadAsync();
        session.Set("cart", "apple");
        session.SignIn("alice");
        var refused = await session.CommitAsync();

        Assert.Equal(CredentialChange.Clear, refused.Change);
        Assert.True(session.SignInRefused);
        Assert.False(session.IsAuthenticated);
        Assert.Equal(1, signedIn);
        Assert.NotNull(await manager.Store.LoadAsync(first.SessionId!));
        Assert.Equal([first.SessionId], (await manager.Subjects.ListAsync("alice")).Select(s => s.Id));
        var revoked = Assert.Single(revokedEvents);
        Assert.Equal(("alice", SessionRevocationReason.Limit, "Safari"), (revoked.Subject, revoked.Reason, revoked.Metadata.UserAgent));
        Assert.NotEqual(first.SessionId, revoked.SessionId);
        Assert.Equal(1, revokedCount.Sum(("reason", "limit")));

        // An anonymous session that signs in is refused the same way: it is revoked, and the client's cookie cleared.
        var anonymous = manager.Open(null);
        await anonymous.LoadAsync();
        anonymous.Set("cart", "pear");
        var anonymousResult = await anonymous.CommitAsync();
        var again = manager.Open(anonymousResult.Credential);
        await again.LoadAsync();
        again.SignIn("alice");
        Assert.Equal(CredentialChange.Clear, (await again.CommitAsync()).Change);
        Assert.Null(await manager.Store.LoadAsync(anonymousResult.SessionId!));
        Assert.Equal(2, revokedCount.Sum(("reason", "limit")));
    }

    /// <summary>Token sign-ins honour the limit: the oldest goes under the default policy, the newcomer is refused under the other.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TokenSignInsHonourTheLimit()
    {
        var revokedEvents = new List<SessionRevokedEvent>();
        var manager = NewManager(1, SessionLimitPolicy.RevokeLeastRecentlyUsed, revokedEvents, null);
        var cookie = await SignInAsync(manager, "alice");
        Clock.Advance(TimeSpan.FromMinutes(1));

        var pair = await manager.Tokens.CreateAsync("alice");

        Assert.Null(await manager.Store.LoadAsync(cookie.SessionId!));
        Assert.True((await manager.Tokens.GetAsync(pair.AccessToken)).Succeeded);
        Assert.Equal(SessionRevocationReason.Limit, Assert.Single(revokedEvents).Reason);
        Assert.NotNull(await manager.Tokens.CreateAsync(null)); // anonymous token sessions are not limited
        Assert.NotNull(await manager.Tokens.CreateAsync(null));

        var refusing = NewManager(1, SessionLimitPolicy.RefuseNewSignIn, revokedEvents, null, store: manager.Store);
        Clock.Advance(TimeSpan.FromMinutes(1));
        var refused = await refusing.Tokens.TryCreateAsync("alice");
        Assert.Equal(TokenFailure.SessionLimitReached, refused.Failure);
        Assert.Equal("session_limit_reached", refused.Reason);
        await Assert.ThrowsAsync<SessionLimitExceededException>(async () => await refusing.Tokens.CreateAsync("alice"));
        Assert.Equal([pair.SessionId], (await refusing.Subjects.ListAsync("alice")).Select(s => s.Id));
        Assert.True((await refusing.Tokens.TryCreateAsync("bob")).Succeeded);
        Assert.Equal(3, revokedEvents.Count);
    }

    /// <summary>Ten simultaneous sign-ins of one subject never leave more live sessions than the limit.</summary>
    /// <returns>The test.</returns>
    [Theory]
    [InlineData(SessionLimitPolicy.RevokeLeastRecentlyUsed)]
    [InlineData(SessionLimitPolicy.RefuseNewSignIn)]
    public async Task SimultaneousSignInsNeverExceedTheLimit(SessionLimitPolicy policy)
    {
        var manager = NewManager(3, policy, null, null);

        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Task.Run(async () => await SignInAsync(manager, "alice"))));

        var live = await manager.Subjects.ListAsync("alice");
        Assert.InRange(live.Count, 1, 3);
        if (policy == SessionLimitPolicy.RefuseNewSignIn)
        {
            // Refusing revokes only the newcomer, so a sign-in once accepted is never revoked by a racing one: exactly three
            // were accepted, and they are the live ones (ConcurrencyConformanceTests runs the same race fifty-wide).
            Assert.Equal(3, live.Count);
            Assert.Equal(
                live.Select(s => s.Id).Order(StringComparer.Ordinal),
                results.Where(r => r.Change == CredentialChange.Issue).Select(r => r.SessionId!).Order(StringComparer.Ordinal));
        }
    }

    /// <summary>A limit with a store that cannot enforce it fails when the manager is made, and bad values fail validation.</summary>
    [Fact]
    public void TheLimitIsValidatedAtStartUp()
    {
        var options = new TesseraOptions { MaxSessionsPerSubject = 0, SessionLimitPolicy = (SessionLimitPolicy)7 };
        options.Keys.Add(SigningKeyRing.GenerateBase64Key());
        var failures = new TesseraOptionsValidator().Validate(null, options).Failures!.ToList();
        Assert.Contains(failures, f => f.Contains("MaxSessionsPerSubject", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("SessionLimitPolicy", StringComparison.Ordinal));

        options.MaxSessionsPerSubject = 2;
        var error = Assert.Throws<InvalidOperationException>(() => new SessionManager(new LimitlessStore(CreateStore()), Options.Create(options), Clock));
        Assert.Contains("ISubjectSessionLimiter", error.Message, StringComparison.Ordinal);
    }

    private SessionManager NewManager(int limit, SessionLimitPolicy policy, List<SessionRevokedEvent>? revoked, IMeterFactory? meters, Action? onSignedIn = null, ISessionStore? store = null)
    {
        var options = new TesseraOptions { MaxSessionsPerSubject = limit, SessionLimitPolicy = policy };
        options.Keys.Add(SigningKeyRing.GenerateBase64Key());
        if (revoked is not null)
        {
            options.Events.OnRevoked = e =>
            {
                lock (revoked)
                {
                    revoked.Add(e);
                }
                return ValueTask.CompletedTask;
            };
        }
        if (onSignedIn is not null)
        {
            options.Events.OnSignedIn = _ =>
            {
                onSignedIn();
                return ValueTask.CompletedTask;
            };
        }
#pragma warning disable CA2000 // the factory owns the meter
        var metrics = meters is null ? null : new TesseraMetrics(meters);
#pragma warning restore CA2000
        return new SessionManager(store ?? CreateStore(), Options.Create(options), Clock, null, metrics);
    }

    private static async Task<SessionCommitResult> SignInAsync(SessionManager manager, string subject, SessionMetadata? metadata = null)
    {
        var session = manager.Open(null, metadata);
        await session.LoadAsync();
        session.SignIn(subject);
        return await session.CommitAsync();
    }

    private static async Task UseAsync(SessionManager manager, string credential)
    {
        var session = manager.Open(credential);
        await session.LoadAsync();
        Assert.True(session.IsAuthenticated);
        await session.CommitAsync();
    }

    // Hides every optional capability of the store it wraps but the route a routed store needs to find a credential.
    private sealed class LimitlessStore(ISessionStore inner) : ISessionStore, IRoutedSessionStore
    {
        public ValueTask<bool> CreateAsync(SessionRecord record, CancellationToken cancellationToken = default) => inner.CreateAsync(record, cancellationToken);

        public ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken = default) => inner.LoadAsync(id, cancellationToken);

        public ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken = default) => inner.LoadByCredentialAsync(credentialHash, cancellationToken);

        public ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, SessionRoute route, CancellationToken cancellationToken = default) => inner.LoadByCredentialAsync(credentialHash, route, cancellationToken);

        public ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken = default) => inner.ApplyAsync(id, patch, cancellationToken);

        public ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken = default) => inner.TouchAsync(id, lastSeenAt, idleExpiresAt, cancellationToken);

        public ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default) => inner.RevokeAsync(id, revokedAt, cancellationToken);

        public ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken = default) => inner.DeleteAsync(id, cancellationToken);
    }
}
