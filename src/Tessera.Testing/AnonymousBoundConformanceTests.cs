using System.Net;
using System.Security.Cryptography;
using Xunit;

namespace Tessera.Testing;

/// <summary>What a store does when it is at its anonymous bound (see <see cref="AnonymousBoundConformanceTests{TKit}"/>).</summary>
public enum AnonymousBoundBehavior
{
    /// <summary>The least recently seen anonymous sessions are evicted to make room (the memory and SQLite stores' default).</summary>
    EvictsLeastRecentlyUsed,

    /// <summary>A new anonymous session is refused with <see cref="SessionStoreFullException"/> (PostgreSQL and Redis).</summary>
    Refuses,
}

/// <summary>
/// The anonymous-flood suite: a store with a bound on anonymous sessions never signs anybody out to make room for
/// anonymous visitors, keeps the anonymous sessions within the bound, and frees room as anonymous sessions sign in or
/// expire. Inherit it with the kit of a store that can bound its anonymous sessions (<see cref="StoreKit.AnonymousBound"/>).
/// </summary>
/// <remarks>
/// The HTTP tests drive a real Kestrel server with a real client: a flood of cookieless writes past the bound either
/// keeps working (evicting stores) or gets a 503 with <c>Retry-After</c> and the problem code
/// <c>session_store_full</c> (refusing stores), never a 500, and a signed-in user stays signed in throughout.
/// </remarks>
public abstract class AnonymousBoundConformanceTests<TKit> : HttpConformanceTestBase<TKit>
    where TKit : StoreKit, new()
{
    /// <summary>The anonymous bound the tests use unless they say otherwise.</summary>
    protected const int Bound = 20;

    /// <summary>
    /// Creates an empty store on <see cref="HttpConformanceTestBase{TKit}.Clock"/> through the kit, whose anonymous bound
    /// is <paramref name="maxAnonymousSessions"/>; a store with a bound on all its sessions as well
    /// (<see cref="StoreKit.HasTotalBound"/>) gets <paramref name="maxSessions"/> for that one, or a hundred times the
    /// anonymous bound when it is <see langword="null"/>.
    /// </summary>
    /// <param name="maxAnonymousSessions">The most anonymous sessions.</param>
    /// <param name="maxSessions">The most sessions of any kind, for stores that bound them; <see langword="null"/> for well above the anonymous bound.</param>
    /// <returns>The store; the kit disposes it when the test ends.</returns>
    protected ISessionStore CreateStore(int maxAnonymousSessions, int? maxSessions = null) =>
        Kit.CreateStore(Clock, new StoreShape { MaxAnonymousSessions = maxAnonymousSessions, MaxSessions = maxSessions ?? 100 * maxAnonymousSessions });

    /// <summary>What the store does at its anonymous bound: <see cref="StoreKit.AnonymousBound"/>, which must be set to run this suite.</summary>
    protected AnonymousBoundBehavior Behavior =>
        Kit.AnonymousBound ?? throw new InvalidOperationException($"{Kit.GetType().Name} does not say what its store does at its anonymous bound: override AnonymousBound to run {GetType().Name}.");

    /// <summary>Whether the store also bounds all its sessions: <see cref="StoreKit.HasTotalBound"/>.</summary>
    protected bool HasTotalBound => Kit.HasTotalBound;

    /// <summary>How far the clock must move before the store counts its anonymous sessions again: <see cref="StoreKit.AnonymousCountInterval"/>.</summary>
    protected TimeSpan CountInterval => Kit.AnonymousCountInterval;

    /// <inheritdoc />
    protected override ISessionStore CreateStore() => CreateStore(Bound);

    /// <summary>A flood of anonymous sessions three times the bound leaves every signed-in session in place.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AnAnonymousFloodPastTheBoundSignsNobodyOut()
    {
        var store = CreateStore(Bound);
        var signedIn = await SignInAsync(store, 5);

        var (flood, refused) = await FloodAsync(store, 3 * Bound);

        await AssertAllLiveAsync(store, signedIn);
        var live = await CountLiveAsync(store, flood);
        Assert.InRange(live, 1, Bound);
        if (Behavior == AnonymousBoundBehavior.Refuses)
        {
            Assert.Equal(2 * Bound, refused);
            Assert.Equal(Bound, live);
        }
        else
        {
            Assert.Equal(0, refused);
            // The newest visitors are the ones kept.
            Assert.NotNull(await store.LoadByCredentialAsync(flood[^1]));
        }
    }

    /// <summary>Once the anonymous bound is reached, a new signed-in session is still created.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ASignInStillSucceedsWhenTheAnonymousBoundIsReached()
    {
        var store = CreateStore(Bound);
        await FloodAsync(store, 2 * Bound);

        var alice = Record("alice");

        Assert.True(await store.CreateAsync(alice));
        Assert.NotNull(await store.LoadByCredentialAsync(alice));
    }

    /// <summary>An anonymous session that signs in no longer counts against the anonymous bound.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AnAnonymousSessionThatSignsInLeavesTheAnonymousBudget()
    {
        var store = CreateStore(3);
        var (visitors, _) = await FloodAsync(store, 3);
        Assert.True(await store.ApplyAsync(visitors[0].Id, new SessionPatch { SubjectChanged = true, Subject = "alice" }));
        Clock.Advance(CountInterval);

        var (newcomer, refused) = await FloodAsync(store, 1);

        Assert.Equal(0, refused);
        foreach (var record in visitors.Concat(newcomer))
        {
            Assert.NotNull(await store.LoadAsync(record.Id));
        }
        Assert.Equal("alice", (await store.LoadAsync(visitors[0].Id))?.Subject);
    }

    /// <summary>Expired anonymous sessions leave room for new ones without anybody being evicted.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ExpiredAnonymousSessionsLeaveRoomForNewOnes()
    {
        var store = CreateStore(3);
        await FloodAsync(store, 3, idle: TimeSpan.FromMinutes(1));
        var keeper = Record(subject: null, idle: TimeSpan.FromHours(1));
        Clock.Advance(TimeSpan.FromMinutes(2) + CountInterval);

        Assert.True(await store.CreateAsync(keeper));
        var (later, refused) = await FloodAsync(store, 2);

        Assert.Equal(0, refused);
        foreach (var record in later.Append(keeper))
        {
            Assert.NotNull(await store.LoadAsync(record.Id));
        }
    }

    /// <summary>
    /// A store that bounds all its sessions, full of signed-in ones and anonymous ones alike, makes room for a new
    /// signed-in session from the anonymous ones, and never signs anybody out for an anonymous newcomer.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AFullStoreNeverGivesUpASignedInSessionForAnAnonymousOne()
    {
        if (!HasTotalBound)
        {
            return;
        }
        // Anonymous sessions may take the whole store here, so only the eviction order protects the signed-in ones.
        var store = CreateStore(maxAnonymousSessions: 10, maxSessions: 10);
        var signedIn = await SignInAsync(store, 4);
        Clock.Advance(TimeSpan.FromSeconds(1));

        await FloodAsync(store, 30);
        var late = Record("late");
        Assert.True(await store.CreateAsync(late));
        signedIn.Add(late);

        await AssertAllLiveAsync(store, signedIn);
    }

    /// <summary>
    /// A store full of signed-in sessions refuses an anonymous newcomer with <see cref="SessionStoreFullException"/>
    /// rather than evict one of them.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AStoreFullOfSignedInSessionsRefusesAnAnonymousOne()
    {
        if (!HasTotalBound)
        {
            return;
        }
        var store = CreateStore(maxAnonymousSessions: 5, maxSessions: 5);
        var signedIn = await SignInAsync(store, 5);

        await Assert.ThrowsAsync<SessionStoreFullException>(async () => await store.CreateAsync(Record(subject: null)));

        await AssertAllLiveAsync(store, signedIn);
    }

    /// <summary>
    /// Over HTTP: a signed-in user stays signed in through a flood of cookieless writes three times the anonymous bound,
    /// and every flood request gets a 200 or a 503 with <c>Retry-After</c> and <c>session_store_full</c>, never a 500.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task OverHttpAnAnonymousFloodGets503sOrEvictionsAndTheSignedInUserStays()
    {
        var server = await StartTestServerAsync();
        using var alice = server.CreateClient();
        using (var signIn = await alice.SendAsync(HttpMethod.Post, "/signin/alice", new ByteArrayContent([])))
        {
            Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        }
        await alice.PostAsync("/set/cart/apple");

        var ok = 0;
        var unavailable = 0;
        using var visitor = server.CreateClient();
        for (var i = 0; i < 3 * Bound; i++)
        {
            visitor.Cookie = null;
            using var response = await visitor.SendAsync(HttpMethod.Post, "/set/cart/pear", new ByteArrayContent([]));
            if (response.StatusCode == HttpStatusCode.OK)
            {
                ok++;
                continue;
            }
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.NotNull(response.Headers.RetryAfter);
            Assert.Contains("session_store_full", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.False(response.Headers.Contains("Set-Cookie"));
            unavailable++;
        }

        Assert.Equal("alice", await alice.GetStringAsync("/whoami"));
        Assert.Equal("apple", await alice.GetStringAsync("/read/cart"));
        if (Behavior == AnonymousBoundBehavior.Refuses)
        {
            Assert.Equal((Bound, 2 * Bound), (ok, unavailable));
        }
        else
        {
            Assert.Equal((3 * Bound, 0), (ok, unavailable));
        }
    }

    /// <summary>Over HTTP, an anonymous session's idle deadline follows the anonymous idle timeout; signing in lengthens it.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task OverHttpAnonymousSessionsIdleOutSoonerThanSignedInOnes()
    {
        var server = await StartTestServerAsync(Store, o =>
        {
            o.IdleTimeout = TimeSpan.FromMinutes(30);
            o.AnonymousIdleTimeout = TimeSpan.FromMinutes(10);
        });
        using var visitor = server.CreateClient();
        using var member = server.CreateClient();
        await visitor.PostAsync("/set/cart/apple");
        await member.PostAsync("/set/cart/pear");
        await member.PostAsync("/signin/bob");

        Clock.Advance(TimeSpan.FromMinutes(11));

        Assert.Equal("(none)", await visitor.GetStringAsync("/read/cart"));
        Assert.Equal("pear", await member.GetStringAsync("/read/cart"));
        Assert.Equal("bob", await member.GetStringAsync("/whoami"));
    }

    private async Task<List<SessionRecord>> SignInAsync(ISessionStore store, int count)
    {
        var signedIn = new List<SessionRecord>();
        for (var i = 0; i < count; i++)
        {
            var record = Record($"user-{i}");
            Assert.True(await store.CreateAsync(record));
            signedIn.Add(record);
            Clock.Advance(TimeSpan.FromMilliseconds(10));
        }
        return signedIn;
    }

    private static async Task AssertAllLiveAsync(ISessionStore store, IEnumerable<SessionRecord> records)
    {
        foreach (var record in records)
        {
            Assert.NotNull(await store.LoadByCredentialAsync(record));
        }
    }

    private async Task<(List<SessionRecord> Created, int Refused)> FloodAsync(ISessionStore store, int count, TimeSpan? idle = null)
    {
        var created = new List<SessionRecord>();
        var refused = 0;
        for (var i = 0; i < count; i++)
        {
            var record = Record(subject: null, idle: idle);
            try
            {
                Assert.True(await store.CreateAsync(record));
                created.Add(record);
            }
            catch (SessionStoreFullException)
            {
                refused++;
            }
            // Distinct last-seen times, so "least recently seen" has one answer.
            Clock.Advance(TimeSpan.FromMilliseconds(10));
        }
        return (created, refused);
    }

    private static async Task<int> CountLiveAsync(ISessionStore store, IEnumerable<SessionRecord> records)
    {
        var live = 0;
        foreach (var record in records)
        {
            if (await store.LoadByCredentialAsync(record) is not null)
            {
                live++;
            }
        }
        return live;
    }

    private SessionRecord Record(string? subject, TimeSpan? idle = null)
    {
        var now = Clock.GetUtcNow();
        now = DateTimeOffset.FromUnixTimeMilliseconds(now.ToUnixTimeMilliseconds());
        return new SessionRecord
        {
            Id = Guid.NewGuid().ToString(),
            CredentialHash = RandomNumberGenerator.GetBytes(32),
            Subject = subject,
            Data = new Dictionary<string, string>(StringComparer.Ordinal) { ["cart"] = "[\"apple\"]" },
            CreatedAt = now,
            LastSeenAt = now,
            IdleExpiresAt = now + (idle ?? TimeSpan.FromMinutes(30)),
            AbsoluteExpiresAt = now + TimeSpan.FromHours(8),
        };
    }
}
