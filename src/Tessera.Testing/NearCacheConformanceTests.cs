using Microsoft.Extensions.Time.Testing;
using System.Security.Cryptography;
using Tessera.NearCache;
using Tessera.Tokens;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// The near cache suite: two application instances (<see cref="First"/> and <see cref="Second"/>), each a
/// <see cref="NearCacheSessionStore"/> over its own connection to one shared store, talking over the store's real
/// invalidation channel. Inherit it with a kit whose shared stores (<see cref="StoreKit.CreateSharedStore"/>) and channel
/// (<see cref="StoreKit.CreateChannel"/>) are overridden.
/// </summary>
/// <remarks>
/// Waiting for a message uses real time (a 10 second guard against a hung test); expiry and staleness use
/// <see cref="Clock"/>, which no test sleeps for. Lost messages and a dropped subscription are injected by
/// <see cref="ObservedInvalidationChannel"/> around the real channel. Every test also runs with the wrapped store's
/// other suites when the derived project wraps its stores with <see cref="StoreKit.StartNearCache"/>.
/// </remarks>
public abstract class NearCacheConformanceTests<TKit> : IAsyncLifetime
    where TKit : StoreKit, new()
{
    /// <summary>The staleness bound both instances use: 5 seconds, the default.</summary>
    protected static readonly TimeSpan MaxStaleness = new NearCacheOptions().MaxStaleness;

    private readonly TesseraMetricCollector _firstMetrics = new();
    private readonly TesseraMetricCollector _secondMetrics = new();

    /// <summary>The clock of both instances and their stores.</summary>
    protected FakeTimeProvider Clock { get; } = new(TestClock.Start);

    /// <summary>The first instance.</summary>
    protected NearCacheSessionStore First { get; private set; } = null!;

    /// <summary>The second instance.</summary>
    protected NearCacheSessionStore Second { get; private set; } = null!;

    /// <summary>The first instance's channel.</summary>
    protected ObservedInvalidationChannel FirstChannel { get; private set; } = null!;

    /// <summary>The second instance's channel.</summary>
    protected ObservedInvalidationChannel SecondChannel { get; private set; } = null!;

    /// <summary>The kit that makes this test's stores; disposed (with every store it made) when the test ends.</summary>
    protected TKit Kit { get; } = new();

    /// <summary>
    /// Creates a store on <see cref="Clock"/> over the data every store returned during this test shares, through
    /// <see cref="StoreKit.CreateSharedStore"/>.
    /// </summary>
    /// <returns>The store.</returns>
    protected ISessionStore CreateSharedStore() => Kit.CreateSharedStore(Clock);

    /// <summary>Creates the store's real invalidation channel through <see cref="StoreKit.CreateChannel"/>.</summary>
    /// <param name="store">A store made by <see cref="CreateSharedStore"/>.</param>
    /// <returns>The channel.</returns>
    protected ISessionInvalidationChannel CreateChannel(ISessionStore store) => Kit.CreateChannel(store);

    /// <summary>Starts both instances.</summary>
    /// <returns>A task that completes when both listen.</returns>
    public virtual async ValueTask InitializeAsync()
    {
        var first = CreateSharedStore();
        var second = CreateSharedStore();
        FirstChannel = new ObservedInvalidationChannel(CreateChannel(first));
        SecondChannel = new ObservedInvalidationChannel(CreateChannel(second));
        First = new NearCacheSessionStore(first, FirstChannel, null, Clock, null, new TesseraMetrics(_firstMetrics.Factory));
        Second = new NearCacheSessionStore(second, SecondChannel, null, Clock, null, new TesseraMetrics(_secondMetrics.Factory));
        await First.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await Second.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Stops both instances (their channels), then disposes the kit and with it the shared stores.</summary>
    /// <returns>A task.</returns>
    public virtual async ValueTask DisposeAsync()
    {
        await First.DisposeAsync();
        await Second.DisposeAsync();
        _firstMetrics.Dispose();
        _secondMetrics.Dispose();
        await Kit.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    /// <summary>Reading a session again is served from memory: one store read for three reads.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task RepeatedReadsOfASessionAreServedFromMemory()
    {
        var record = await CreateAsync(First);

        for (var i = 0; i < 3; i++)
        {
            var loaded = await Second.LoadByCredentialAsync(record);
            Assert.Equal(record.Id, loaded?.Id);
        }

        Assert.Equal(1, Lookups(_secondMetrics, "miss"));
        Assert.Equal(2, Lookups(_secondMetrics, "hit"));
        Assert.Equal(1, Second.Count);
    }

    /// <summary>A reading by id and by credential share one entry: after one read, the other is a hit.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AReadByIdAlsoServesReadsByCredential()
    {
        var record = await CreateAsync(First);

        await Second.LoadAsync(record.Id);
        var byCredential = await Second.LoadByCredentialAsync(record);

        Assert.Equal(record.Id, byCredential?.Id);
        Assert.Equal(1, Lookups(_secondMetrics, "hit"));
    }

    /// <summary>A change on one instance reaches the other's cache once the message arrives, without the clock moving.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AChangeOnOneInstanceIsReadOnTheOtherOnceAnnounced()
    {
        var record = await CreateAsync(First);
        Assert.Empty((await Second.LoadByCredentialAsync(record))!.Data);

        Assert.True(await First.ApplyAsync(record.Id, new SessionPatch
        {
            Set = new Dictionary<string, string>(StringComparer.Ordinal) { ["cart"] = "[\"apple\"]" },
            LastSeenAt = Now(),
            IdleExpiresAt = record.IdleExpiresAt,
        }));
        await SecondChannel.WaitForAsync(record.Id);

        var seen = await Second.LoadByCredentialAsync(record);
        Assert.Equal("[\"apple\"]", seen!.Data["cart"].Replace(" ", "", StringComparison.Ordinal));
    }

    /// <summary>
    /// The revocation bound: a session revoked on one instance is refused on the other as soon as the message arrives,
    /// with the clock standing still (so not by the staleness net).
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ARevocationOnOneInstanceIsRefusedOnTheOtherOnceAnnounced()
    {
        var record = await CreateAsync(First);
        Assert.NotNull(await Second.LoadByCredentialAsync(record));
        Assert.NotNull(await Second.LoadByCredentialAsync(record)); // now served from memory

        Assert.True(await First.RevokeAsync(record.Id, Now()));
        await SecondChannel.WaitForAsync(record.Id);

        Assert.Null(await Second.LoadByCredentialAsync(record));
        Assert.Null(await Second.LoadAsync(record.Id));
    }

    /// <summary>
    /// The safety net: when the revocation's message is lost, the other instance may serve its copy, but never once
    /// <see cref="NearCacheOptions.MaxStaleness"/> has passed since it read it.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ALostRevocationMessageIsBoundedByMaxStaleness()
    {
        var record = await CreateAsync(First);
        Assert.NotNull(await Second.LoadByCredentialAsync(record));
        SecondChannel.DropIncoming = true;

        Assert.True(await First.RevokeAsync(record.Id, Now()));
        await SecondChannel.WaitForAsync(record.Id); // arrived, and dropped

        Clock.Advance(MaxStaleness - TimeSpan.FromMilliseconds(1));
        Assert.NotNull(await Second.LoadByCredentialAsync(record)); // the documented stale window
        Clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Null(await Second.LoadByCredentialAsync(record));
    }

    /// <summary>While the subscription is down every read goes to the store, so lost messages cannot matter; when it comes back the cache starts empty.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task WhileNotListeningEveryReadGoesToTheStore()
    {
        var record = await CreateAsync(First);
        Assert.NotNull(await Second.LoadByCredentialAsync(record));

        SecondChannel.SimulateDisconnect();
        SecondChannel.DropIncoming = true;
        Assert.False(Second.IsListening);
        Assert.Equal(0, Second.Count);
        Assert.True(await First.RevokeAsync(record.Id, Now()));
        await SecondChannel.WaitForAsync(record.Id); // arrived while deaf, and dropped

        Assert.Null(await Second.LoadByCredentialAsync(record));
        Assert.Equal(1, Lookups(_secondMetrics, "bypass"));

        var other = await CreateAsync(First);
        Assert.NotNull(await Second.LoadByCredentialAsync(other));
        Assert.Equal(0, Second.Count); // nothing kept while deaf

        SecondChannel.DropIncoming = false;
        SecondChannel.SimulateReconnect();
        Assert.True(Second.IsListening);
        Assert.NotNull(await Second.LoadByCredentialAsync(other));
        Assert.NotNull(await Second.LoadByCredentialAsync(other));
        Assert.Equal(1, Lookups(_secondMetrics, "hit"));
    }

    /// <summary>A copy whose deadline passed is not answered as missing: it is read again, and a touch made elsewhere keeps it alive.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ACopyThatLooksExpiredIsReadAgainFromTheStore()
    {
        // The idle timeout is shorter than MaxStaleness, so only the deadline (not the staleness net) can send Second back to the store.
        var record = await CreateAsync(First, idle: TimeSpan.FromSeconds(3));
        Assert.NotNull(await Second.LoadByCredentialAsync(record));
        SecondChannel.DropIncoming = true; // touches are not announced anyway; make sure nothing else helps

        Clock.Advance(TimeSpan.FromSeconds(2));
        Assert.True(await First.TouchAsync(record.Id, Now(), Now() + TimeSpan.FromSeconds(3)));
        Clock.Advance(TimeSpan.FromSeconds(2)); // past the copy's idle deadline, within the touched one and within MaxStaleness

        var loaded = await Second.LoadByCredentialAsync(record);
        Assert.NotNull(loaded);
        Assert.True(loaded.IdleExpiresAt > Now());
        Assert.Equal(0, Lookups(_secondMetrics, "hit"));

        Clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Null(await Second.LoadByCredentialAsync(record));
    }

    /// <summary>A credential changed on one instance stops working on the other once announced; the new one works.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ARegeneratedCredentialIsRefusedOnTheOtherInstance()
    {
        var record = await CreateAsync(First);
        Assert.NotNull(await Second.LoadByCredentialAsync(record));
        var newHash = RandomNumberGenerator.GetBytes(32);

        Assert.True(await First.ApplyAsync(record.Id, new SessionPatch { NewCredentialHash = newHash, LastSeenAt = Now(), IdleExpiresAt = record.IdleExpiresAt }));
        await SecondChannel.WaitForAsync(record.Id);

        Assert.Null(await Second.LoadByCredentialAsync(record));
        Assert.Equal(record.Id, (await Second.LoadByCredentialAsync(newHash, record.Id))?.Id);
    }

    /// <summary>Access-token lookups are cached; a rotation on one instance drops them on the other, so the old token is seen revoked.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ARotationOnOneInstanceRevokesTheCachedAccessTokenOnTheOther()
    {
        var record = await CreateAsync(First);
        var (access, refresh) = Pair(record.Id);
        Assert.True(await First.CreateTokensAsync(access, refresh));
        Assert.Null((await Second.LoadTokenAsync(access.Id))!.Token.RevokedAt);
        Assert.Null((await Second.LoadTokenAsync(access.Id))!.Token.RevokedAt);
        Assert.Equal(1, Lookups(_secondMetrics, "hit"));

        var (newAccess, newRefresh) = Pair(record.Id);
        Assert.Equal(TokenRotationOutcome.Rotated, await First.RotateAsync(refresh.Id, newAccess, newRefresh, Now()));
        await SecondChannel.WaitForAsync(record.Id);

        Assert.NotNull((await Second.LoadTokenAsync(access.Id))!.Token.RevokedAt);
    }

    /// <summary>Refresh-token lookups always go to the store: rotation and reuse detection need its truth.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task RefreshTokenLookupsAreNeverServedFromMemory()
    {
        var record = await CreateAsync(First);
        var (access, refresh) = Pair(record.Id);
        Assert.True(await First.CreateTokensAsync(access, refresh));

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(refresh.Id, (await Second.LoadTokenAsync(refresh.Id))?.Token.Id);
        }

        Assert.Equal(0, Lookups(_secondMetrics, "hit"));
        Assert.Equal(3, Lookups(_secondMetrics, "miss"));
    }

    /// <summary>A session revoked by a subject limit on one instance is dropped on the other.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task SessionsRevokedByASubjectLimitAreDroppedEverywhere()
    {
        var older = await CreateAsync(First, subject: "limited");
        Clock.Advance(TimeSpan.FromSeconds(1));
        var newer = await CreateAsync(First, subject: "limited");
        Assert.NotNull(await Second.LoadByCredentialAsync(older));

        var revoked = await First.TrimSubjectAsync("limited", 1, SessionLimitOrder.OldestCreated, newer.Id, Now());
        Assert.Equal([older.Id], revoked);
        await SecondChannel.WaitForAsync(older.Id);

        Assert.Null(await Second.LoadByCredentialAsync(older));
    }

    /// <summary>Clearing the store on one instance empties every instance's cache.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ClearingTheStoreEmptiesEveryCache()
    {
        var record = await CreateAsync(First);
        Assert.NotNull(await Second.LoadByCredentialAsync(record));
        Assert.Equal(1, Second.Count);

        await First.ClearAsync();
        await SecondChannel.WaitForAsync("*");

        Assert.Equal(0, Second.Count);
        Assert.Null(await Second.LoadByCredentialAsync(record));
    }

    /// <summary>The cache never holds more than <see cref="NearCacheOptions.MaxEntries"/> sessions.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TheCacheStaysWithinMaxEntries()
    {
        var store = CreateSharedStore();
        await using var bounded = new NearCacheSessionStore(store, CreateChannel(store), new NearCacheOptions { MaxEntries = 10 }, Clock);
        await bounded.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));

        for (var i = 0; i < 40; i++)
        {
            var record = await CreateAsync(First);
            Assert.Equal(record.Id, (await bounded.LoadByCredentialAsync(record))?.Id);
            Assert.InRange(bounded.Count, 0, 10);
        }
    }

    /// <summary>The current time at the millisecond precision stores keep.</summary>
    /// <returns>The time.</returns>
    protected DateTimeOffset Now()
    {
        var now = Clock.GetUtcNow();
        return new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
    }

    private static double Lookups(TesseraMetricCollector metrics, string result) =>
        metrics.Sum(TesseraMetrics.NearCacheLookups, ("result", result));

    private async Task<SessionRecord> CreateAsync(ISessionStore store, TimeSpan? idle = null, string? subject = null)
    {
        var now = Now();
        var record = new SessionRecord
        {
            Id = Guid.NewGuid().ToString("D"),
            CredentialHash = RandomNumberGenerator.GetBytes(32),
            Subject = subject,
            CreatedAt = now,
            LastSeenAt = now,
            IdleExpiresAt = now + (idle ?? TimeSpan.FromMinutes(30)),
            AbsoluteExpiresAt = now + TimeSpan.FromHours(8),
        };
        Assert.True(await store.CreateAsync(record));
        return record;
    }

    private (TokenRecord Access, TokenRecord Refresh) Pair(string sessionId)
    {
        var issued = DateTimeOffset.FromUnixTimeSeconds(Now().ToUnixTimeSeconds());
        var access = new TokenRecord
        {
            Id = SessionRoute.NewTokenId(sessionId),
            SessionId = sessionId,
            Kind = TokenKind.Access,
            PairedTokenId = SessionRoute.NewTokenId(sessionId),
            CreatedAt = issued,
            ExpiresAt = issued + TimeSpan.FromMinutes(5),
        };
        return (access, access with { Id = access.PairedTokenId, Kind = TokenKind.Refresh, PairedTokenId = access.Id, ExpiresAt = issued + TimeSpan.FromDays(1) });
    }
}
