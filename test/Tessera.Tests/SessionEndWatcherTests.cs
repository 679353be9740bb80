using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Tessera.NearCache;
using Tessera.Testing;

namespace Tessera.Tests;

/// <summary>
/// <see cref="SessionEndWatcher"/> on the memory store and a fake clock: a store read of the memory store completes at
/// once, so each check runs inside the clock move that triggers it and the assertions need no waiting.
/// </summary>
public sealed class SessionEndWatcherTests : IAsyncDisposable
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly InMemorySessionStore _store;
    private readonly SessionManager _manager;
    private readonly SessionEndWatcher _watcher;
    private readonly List<SessionEnded> _ended = [];

    public SessionEndWatcherTests()
    {
        _store = new InMemorySessionStore(_clock);
        var options = new TesseraOptions();
        options.Keys.Add(SigningKeyRing.GenerateBase64Key());
        _manager = new SessionManager(_store, Options.Create(options), _clock);
        _watcher = new SessionEndWatcher(_manager, Options.Create(new SessionEndWatcherOptions()));
    }

    [Fact]
    public async Task ActivityThatMovesTheIdleDeadlineKeepsTheSessionWatchedPastItsOldDeadline()
    {
        var id = await CreateCookieSessionAsync();
        using var watch = _watcher.Watch(id, _ended.Add);
        var oldDeadline = (await _store.LoadAsync(id, TestContext.Current.CancellationToken))!.IdleExpiresAt;
        _clock.Advance(TimeSpan.FromMinutes(20));
        Assert.True(await _store.TouchAsync(id, _clock.GetUtcNow(), _clock.GetUtcNow() + TesseraDefaults.IdleTimeout, TestContext.Current.CancellationToken));

        _clock.Advance(oldDeadline - _clock.GetUtcNow() + TimeSpan.FromSeconds(1));

        Assert.Empty(_ended);
        Assert.Equal(1, _watcher.Count);
        _clock.Advance(TesseraDefaults.IdleTimeout);
        var ended = Assert.Single(_ended);
        Assert.True(ended.Expired);
        Assert.Equal("expired", ended.Code);
        Assert.Equal(0, _watcher.Count);
    }

    [Fact]
    public async Task ARevocationInThisProcessEndsEveryWatchOfTheSessionWithItsReason()
    {
        var id = (await _manager.Tokens.CreateAsync("alice", cancellationToken: TestContext.Current.CancellationToken)).SessionId;
        using var first = _watcher.Watch(id, _ended.Add);
        using var second = _watcher.Watch(id, _ended.Add);

        Assert.True(await _manager.RevokeAsync(id, TestContext.Current.CancellationToken));

        Assert.Equal(2, _ended.Count);
        Assert.All(_ended, e => Assert.Equal(SessionRevocationReason.Operator, e.Reason));
        Assert.All(_ended, e => Assert.Equal("operator", e.Code));
    }

    [Fact]
    public async Task ADisposedWatchIsNotToldAndNoLongerRead()
    {
        var id = (await _manager.Tokens.CreateAsync("alice", cancellationToken: TestContext.Current.CancellationToken)).SessionId;
        var watch = _watcher.Watch(id, _ended.Add);

        watch.Dispose();
        await _manager.RevokeAsync(id, TestContext.Current.CancellationToken);

        Assert.Empty(_ended);
        Assert.Equal(0, _watcher.Count);
    }

    [Fact]
    public async Task ASessionRevokedWhereThisWatcherCannotHearItEndsAtTheNextRevalidation()
    {
        var id = (await _manager.Tokens.CreateAsync("alice", cancellationToken: TestContext.Current.CancellationToken)).SessionId;
        using var watch = _watcher.Watch(id, _ended.Add);

        // Straight to the store: as another process (the tessera tool) would, with no message to anyone.
        Assert.True(await _store.RevokeAsync(id, _clock.GetUtcNow(), TestContext.Current.CancellationToken));
        _clock.Advance(SessionEndWatcherDefaults.RevalidationInterval - TimeSpan.FromSeconds(1));
        Assert.Empty(_ended);
        _clock.Advance(TimeSpan.FromSeconds(1));

        var ended = Assert.Single(_ended);
        Assert.Null(ended.Reason);
        Assert.Equal("revoked", ended.Code);
    }

    [Fact]
    public async Task ACheckThatReadsTheSessionWhileThisProcessRevokesItTellsTheRevocationsReason()
    {
        // The revocation's store write is done and its report not made yet when a re-validation reads the store: that
        // read finds the session revoked without a reason, and the reason must still be the one being reported.
        var id = await CreateCookieSessionAsync();
        var store = new BetweenWriteAndReportStore(_store);
        var options = new TesseraOptions();
        options.Keys.Add(SigningKeyRing.GenerateBase64Key());
        var manager = new SessionManager(store, Options.Create(options), _clock);
        await using var watcher = new SessionEndWatcher(manager, Options.Create(new SessionEndWatcherOptions()));
        using var watch = watcher.Watch(id, _ended.Add);
        store.AfterRevoke = () => _clock.Advance(SessionEndWatcherDefaults.RevalidationInterval);

        Assert.True(await manager.RevokeAsync(id, TestContext.Current.CancellationToken));

        Assert.Equal("operator", Assert.Single(_ended).Code);
    }

    [Fact]
    public async Task ACheckThatReadsTheSessionWhileTheSessionLimitRevokesItTellsTheReasonLimit()
    {
        // The session limit's trim has revoked the older session in the store and not reported it yet when a
        // re-validation reads it. A trim knows what it revoked only from the store's answer, so nothing noted that
        // session beforehand; the read must wait for the report, not close the connection as "revoked".
        var store = new BetweenTrimAndReportStore(_store);
        var options = new TesseraOptions { MaxSessionsPerSubject = 1 };
        options.Keys.Add(SigningKeyRing.GenerateBase64Key());
        var manager = new SessionManager(store, Options.Create(options), _clock);
        await using var watcher = new SessionEndWatcher(manager, Options.Create(new SessionEndWatcherOptions()));
        var older = await SignInAsync(manager, "alice");
        using var watch = watcher.Watch(older, _ended.Add);
        _clock.Advance(TimeSpan.FromSeconds(1));
        store.AfterTrim = () =>
        {
            _clock.Advance(SessionEndWatcherDefaults.RevalidationInterval);
            Assert.Empty(_ended); // the re-read found it revoked and waits
        };

        var newer = await SignInAsync(manager, "alice");

        Assert.Equal("limit", Assert.Single(_ended).Code);
        Assert.Null(await _store.LoadAsync(older, TestContext.Current.CancellationToken));
        Assert.NotNull(await _store.LoadAsync(newer, TestContext.Current.CancellationToken));
        Assert.Equal(0, watcher.Count);
    }

    [Fact]
    public async Task AReReadThatFindsTheSessionRevokedElsewhereWaitsForTheMessageThatSaysWhy()
    {
        // The other instance wrote the revocation and has not announced it yet when this instance's re-validation reads.
        var channel = new HandChannel();
        await using var watcher = await StartWatcherAsync(channel);
        var id = await CreateCookieSessionAsync();
        using var watch = watcher.Watch(id, _ended.Add);
        Assert.True(await _store.RevokeAsync(id, _clock.GetUtcNow(), TestContext.Current.CancellationToken));

        _clock.Advance(SessionEndWatcherDefaults.RevalidationInterval);
        Assert.Empty(_ended);
        channel.Listener.OnEnded(id, SessionRevocationReason.SignOut);

        Assert.Equal("sign_out", Assert.Single(_ended).Code);
        _clock.Advance(SessionEndWatcherDefaults.EndedMessageWait);
        Assert.Single(_ended);
        Assert.Equal(0, watcher.Count);
    }

    [Fact]
    public async Task WhenNoMessageComesTheWatchEndsWithTheReasonUnknownOnceTheWaitIsOver()
    {
        var channel = new HandChannel();
        await using var watcher = await StartWatcherAsync(channel);
        var id = await CreateCookieSessionAsync();
        using var watch = watcher.Watch(id, _ended.Add);
        Assert.True(await _store.RevokeAsync(id, _clock.GetUtcNow(), TestContext.Current.CancellationToken));

        _clock.Advance(SessionEndWatcherDefaults.RevalidationInterval);
        _clock.Advance(SessionEndWatcherDefaults.EndedMessageWait - TimeSpan.FromMilliseconds(1));
        Assert.Empty(_ended);
        _clock.Advance(TimeSpan.FromMilliseconds(1));

        Assert.Equal("revoked", Assert.Single(_ended).Code);
        Assert.Equal(0, watcher.Count);
    }

    [Fact]
    public async Task WhileTheChannelIsDownARevokedSessionEndsAtOnceForNoMessageCanCome()
    {
        var channel = new HandChannel();
        await using var watcher = await StartWatcherAsync(channel);
        var id = await CreateCookieSessionAsync();
        using var watch = watcher.Watch(id, _ended.Add);
        Assert.True(await _store.RevokeAsync(id, _clock.GetUtcNow(), TestContext.Current.CancellationToken));
        channel.Listener.OnListening(false);

        _clock.Advance(SessionEndWatcherDefaults.RevalidationInterval);

        Assert.Equal("revoked", Assert.Single(_ended).Code);
    }

    [Fact]
    public void ANegativeWaitForTheEndedMessageIsRefused()
    {
        var options = new SessionEndWatcherOptions { EndedMessageWait = TimeSpan.FromSeconds(-1) };

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new SessionEndWatcher(_manager, Options.Create(options)));

        Assert.Contains("EndedMessageWait", e.Message, StringComparison.Ordinal);
    }

    public async ValueTask DisposeAsync() => await _watcher.DisposeAsync();

    private async Task<SessionEndWatcher> StartWatcherAsync(HandChannel channel)
    {
        var watcher = new SessionEndWatcher(_manager, Options.Create(new SessionEndWatcherOptions()), () => channel);
        await watcher.StartAsync(TestContext.Current.CancellationToken);
        return watcher;
    }

    // The channel of another instance's messages, delivered by the test's hand; it listens once started.
    private sealed class HandChannel : ISessionInvalidationChannel
    {
        private ISessionInvalidationListener? _listener;

        public ISessionInvalidationListener Listener => _listener ?? throw new InvalidOperationException("Not started.");

        public Task StartAsync(ISessionInvalidationListener listener, CancellationToken cancellationToken = default)
        {
            _listener = listener;
            listener.OnListening(true);
            return Task.CompletedTask;
        }

        public ValueTask PublishAsync(string? sessionId, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class BetweenWriteAndReportStore(ISessionStore inner) : RequiredOnlyStore(inner), ISessionStore
    {
        private readonly ISessionStore _inner = inner;

        public Action? AfterRevoke { get; set; }

        public new async ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
        {
            var revoked = await _inner.RevokeAsync(id, revokedAt, cancellationToken);
            AfterRevoke?.Invoke();
            return revoked;
        }
    }

    private sealed class BetweenTrimAndReportStore(InMemorySessionStore inner) : RequiredOnlyStore(inner), ISubjectSessionLimiter
    {
        public Action? AfterTrim { get; set; }

        public async ValueTask<IReadOnlyList<string>> TrimSubjectAsync(string subject, int keep, SessionLimitOrder order, string? mustKeepId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
        {
            var revoked = await inner.TrimSubjectAsync(subject, keep, order, mustKeepId, revokedAt, cancellationToken);
            AfterTrim?.Invoke();
            return revoked;
        }
    }

    private static async Task<string> SignInAsync(SessionManager manager, string subject)
    {
        var session = manager.Open(null);
        await session.LoadAsync();
        session.SignIn(subject);
        return (await session.CommitAsync()).SessionId!;
    }

    // A cookie session's idle deadline is the idle timeout (a token session's is its refresh token's expiry).
    private async Task<string> CreateCookieSessionAsync()
    {
        var now = _clock.GetUtcNow();
        var record = new SessionRecord
        {
            Id = SessionIds.NewId(),
            CredentialHash = new byte[32],
            Subject = "alice",
            CreatedAt = now,
            LastSeenAt = now,
            IdleExpiresAt = now + TesseraDefaults.IdleTimeout,
            AbsoluteExpiresAt = now + TesseraDefaults.AbsoluteLifetime,
        };
        Assert.True(await _store.CreateAsync(record, TestContext.Current.CancellationToken));
        return record.Id;
    }
}
