using Xunit;

namespace Tessera.Testing;

public abstract partial class SessionStoreConformanceTests<TKit>
    where TKit : StoreKit, new()
{
    // ---------------------------------------------------------------------------------------------------------------
    // Per-subject session limit
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>Trimming by most recently seen keeps the most recently seen sessions and revokes the rest.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TrimmingByRecentUseKeepsTheMostRecentlySeenSessions()
    {
        var store = CreateStore();
        if (Capability<ISubjectSessionLimiter>(store, SupportsSubjectLimit, nameof(SupportsSubjectLimit)) is not { } limiter)
        {
            return;
        }
        var start = Now();
        var oldButActive = NewRecord(subject: "alice", createdAt: start.AddMinutes(-50), lastSeenAt: start.AddMinutes(-1));
        var idle = NewRecord(subject: "alice", createdAt: start.AddMinutes(-40), lastSeenAt: start.AddMinutes(-20));
        var newer = NewRecord(subject: "alice", createdAt: start.AddMinutes(-30), lastSeenAt: start.AddMinutes(-5));
        var least = NewRecord(subject: "alice", createdAt: start.AddMinutes(-10), lastSeenAt: start.AddMinutes(-9));
        foreach (var record in new[] { oldButActive, idle, newer, least })
        {
            Assert.True(await store.CreateAsync(record));
        }

        var revoked = await limiter.TrimSubjectAsync("alice", 2, SessionLimitOrder.MostRecentlySeen, null, Now());

        Assert.Equal(new[] { idle.Id, least.Id }.Order(StringComparer.Ordinal), revoked.Order(StringComparer.Ordinal));
        Assert.NotNull(await store.LoadAsync(oldButActive.Id));
        Assert.NotNull(await store.LoadAsync(newer.Id));
        Assert.Null(await store.LoadAsync(idle.Id));
        Assert.Null(await store.LoadByCredentialAsync(least));
        Assert.False(await store.RevokeAsync(idle.Id, Now()));
        Assert.Empty(await limiter.TrimSubjectAsync("alice", 2, SessionLimitOrder.MostRecentlySeen, null, Now()));
    }

    /// <summary>Trimming by creation keeps the oldest sessions, and the session named must-keep always stays.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TrimmingByCreationKeepsTheOldestAndHonoursMustKeep()
    {
        var store = CreateStore();
        if (Capability<ISubjectSessionLimiter>(store, SupportsSubjectLimit, nameof(SupportsSubjectLimit)) is not { } limiter)
        {
            return;
        }
        var start = Now();
        var first = NewRecord(subject: "alice", createdAt: start.AddMinutes(-30), lastSeenAt: start.AddMinutes(-8));
        var second = NewRecord(subject: "alice", createdAt: start.AddMinutes(-20), lastSeenAt: start.AddMinutes(-6));
        var third = NewRecord(subject: "alice", createdAt: start.AddMinutes(-10), lastSeenAt: start.AddMinutes(-2));
        var fourth = NewRecord(subject: "alice", createdAt: start.AddMinutes(-5));
        foreach (var record in new[] { fourth, second, third, first })
        {
            Assert.True(await store.CreateAsync(record));
        }

        Assert.Equal([fourth.Id], await limiter.TrimSubjectAsync("alice", 3, SessionLimitOrder.OldestCreated, null, Now()));
        // The least recently seen one is named must-keep: it stays, and the most recently seen other one goes.
        var revoked = await limiter.TrimSubjectAsync("alice", 2, SessionLimitOrder.MostRecentlySeen, first.Id, Now());

        Assert.Equal([second.Id], revoked);
        Assert.NotNull(await store.LoadAsync(first.Id));
        Assert.NotNull(await store.LoadAsync(third.Id));
        Assert.Equal([first.Id], await limiter.TrimSubjectAsync("alice", 1, SessionLimitOrder.OldestCreated, third.Id, Now()));
        Assert.NotNull(await store.LoadAsync(third.Id));
    }

    /// <summary>Only the live sessions of that subject count: expired, revoked, other subjects and anonymous ones do not.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TrimmingCountsOnlyTheSubjectsLiveSessions()
    {
        var store = CreateStore();
        if (Capability<ISubjectSessionLimiter>(store, SupportsSubjectLimit, nameof(SupportsSubjectLimit)) is not { } limiter)
        {
            return;
        }
        var start = Now();
        var live = NewRecord(subject: "alice", createdAt: start.AddMinutes(-10));
        var expired = NewRecord(subject: "alice", createdAt: start.AddMinutes(-20), idle: TimeSpan.FromMinutes(1));
        var revokedBefore = NewRecord(subject: "alice", createdAt: start.AddMinutes(-30));
        var otherCase = NewRecord(subject: "Alice", createdAt: start.AddMinutes(-40));
        var bob = NewRecord(subject: "bob", createdAt: start.AddMinutes(-50));
        var anonymous = NewRecord(createdAt: start.AddMinutes(-60));
        foreach (var record in new[] { live, expired, revokedBefore, otherCase, bob, anonymous })
        {
            Assert.True(await store.CreateAsync(record));
        }
        Assert.True(await store.RevokeAsync(revokedBefore.Id, Now()));
        Clock.Advance(TimeSpan.FromMinutes(2));

        Assert.Empty(await limiter.TrimSubjectAsync("alice", 1, SessionLimitOrder.OldestCreated, null, Now()));
        Assert.Empty(await limiter.TrimSubjectAsync("nobody", 1, SessionLimitOrder.MostRecentlySeen, null, Now()));

        Assert.NotNull(await store.LoadAsync(live.Id));
        Assert.NotNull(await store.LoadAsync(otherCase.Id));
        Assert.NotNull(await store.LoadAsync(bob.Id));
        Assert.NotNull(await store.LoadAsync(anonymous.Id));
    }

    /// <summary>Ten concurrent sign-ins of one subject, each creating then trimming, never leave more than the limit live.</summary>
    /// <returns>The test.</returns>
    [Theory]
    [InlineData(SessionLimitOrder.MostRecentlySeen)]
    [InlineData(SessionLimitOrder.OldestCreated)]
    public async Task ConcurrentSignInsThatTrimNeverExceedTheLimit(SessionLimitOrder order)
    {
        var store = CreateStore();
        if (Capability<ISubjectSessionLimiter>(store, SupportsSubjectLimit, nameof(SupportsSubjectLimit)) is not { } limiter)
        {
            return;
        }
        const int keep = 3;
        var index = store as ISubjectSessionIndex;
        for (var round = 0; round < 3; round++)
        {
            await Task.WhenAll(Enumerable.Range(0, 10).Select(i => Task.Run(async () =>
            {
                var record = NewRecord(subject: "alice", createdAt: Now().AddMilliseconds(-i), lastSeenAt: Now().AddMilliseconds(-i));
                Assert.True(await store.CreateAsync(record));
                await limiter.TrimSubjectAsync("alice", keep, order, order == SessionLimitOrder.MostRecentlySeen ? record.Id : null, Now());
            })));
            Clock.Advance(TimeSpan.FromSeconds(1));

            Assert.Empty(await limiter.TrimSubjectAsync("alice", keep, order, null, Now()));
            if (index is not null)
            {
                var liveCount = (await index.ListBySubjectAsync("alice")).Count;
                Assert.InRange(liveCount, 1, keep);
            }
        }
    }
}
