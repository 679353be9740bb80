using Xunit;

namespace Tessera.Testing;

public abstract partial class SessionStoreConformanceTests<TKit>
    where TKit : StoreKit, new()
{
    // ---------------------------------------------------------------------------------------------------------------
    // Counting
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>Counting sees live sessions only: not revoked, expired or deleted ones.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task CountingSeesOnlyLiveSessions()
    {
        var store = CreateStore();
        if (Capability<ISessionStoreCounter>(store, SupportsCounting, nameof(SupportsCounting)) is not { } counter)
        {
            return;
        }
        Assert.Equal(0, await counter.CountAsync());
        var live = Enumerable.Range(0, 3).Select(_ => NewRecord(idle: TimeSpan.FromHours(1))).ToList();
        var revoked = NewRecord(idle: TimeSpan.FromHours(1));
        var expiring = NewRecord(idle: TimeSpan.FromMinutes(1));
        var deleted = NewRecord(idle: TimeSpan.FromHours(1));
        foreach (var record in live.Append(revoked).Append(expiring).Append(deleted))
        {
            Assert.True(await store.CreateAsync(record));
        }
        Assert.Equal(6, await counter.CountAsync());

        Assert.True(await store.RevokeAsync(revoked.Id, Now()));
        Assert.True(await store.DeleteAsync(deleted.Id));
        Clock.Advance(TimeSpan.FromMinutes(2));

        Assert.Equal(3, await counter.CountAsync());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Listing by subject
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>Listing by subject gives that subject's live sessions, oldest first, with their data.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ListingBySubjectGivesTheSubjectsLiveSessionsOldestFirst()
    {
        var store = CreateStore();
        if (Capability<ISubjectSessionIndex>(store, SupportsSubjectIndex, nameof(SupportsSubjectIndex)) is not { } index)
        {
            return;
        }
        var start = Now();
        // Created out of order, so insertion order cannot pass for creation order.
        var second = NewRecord(subject: "alice", data: Data(("n", "2")), createdAt: start.AddMinutes(-20));
        var third = NewRecord(subject: "alice", data: Data(("n", "3")), createdAt: start.AddMinutes(-10));
        var first = NewRecord(subject: "alice", data: Data(("n", "1")), createdAt: start.AddMinutes(-30));
        var revoked = NewRecord(subject: "alice", createdAt: start.AddMinutes(-40));
        var expired = NewRecord(subject: "alice", idle: TimeSpan.FromMinutes(1));
        var otherCase = NewRecord(subject: "Alice");
        var bob = NewRecord(subject: "bob");
        var anonymous = NewRecord();
        foreach (var record in new[] { second, third, first, revoked, expired, otherCase, bob, anonymous })
        {
            Assert.True(await store.CreateAsync(record));
        }
        Assert.True(await store.RevokeAsync(revoked.Id, Now()));
        Clock.Advance(TimeSpan.FromMinutes(2));

        var list = await index.ListBySubjectAsync("alice");

        Assert.Equal([first.Id, second.Id, third.Id], list.Select(r => r.Id));
        AssertSameRecord(first, list[0]);
        AssertSameRecord(second, list[1]);
        AssertSameRecord(third, list[2]);
        Assert.Equal([bob.Id], (await index.ListBySubjectAsync("bob")).Select(r => r.Id));
        Assert.Empty(await index.ListBySubjectAsync("nobody"));
    }

    /// <summary>Listing by subject follows subject changes made by patches.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ListingBySubjectFollowsSignInAndSignOut()
    {
        var store = CreateStore();
        if (Capability<ISubjectSessionIndex>(store, SupportsSubjectIndex, nameof(SupportsSubjectIndex)) is not { } index)
        {
            return;
        }
        var record = NewRecord();
        Assert.True(await store.CreateAsync(record));

        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { SubjectChanged = true, Subject = "carol" }));
        Assert.Equal([record.Id], (await index.ListBySubjectAsync("carol")).Select(r => r.Id));

        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { SubjectChanged = true, Subject = "dave" }));
        Assert.Empty(await index.ListBySubjectAsync("carol"));
        Assert.Equal([record.Id], (await index.ListBySubjectAsync("dave")).Select(r => r.Id));

        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { SubjectChanged = true, Subject = null }));
        Assert.Empty(await index.ListBySubjectAsync("dave"));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Capacity
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>A full store that evicts makes room by dropping the least recently seen session.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AFullEvictingStoreDropsTheLeastRecentlySeenSession()
    {
        if (!SupportsCapacityBound)
        {
            return;
        }
        var store = CreateStore(maxSessions: 3, StoreCapacityPolicy.EvictLeastRecentlyUsed);
        var now = Now();
        // Seen order differs from creation order, so creation order cannot pass for recency.
        var a = NewRecord(createdAt: now.AddMinutes(-10), lastSeenAt: now.AddMinutes(-2));
        var b = NewRecord(createdAt: now.AddMinutes(-9), lastSeenAt: now.AddMinutes(-5));
        var c = NewRecord(createdAt: now.AddMinutes(-8), lastSeenAt: now.AddMinutes(-1));
        foreach (var record in new[] { a, b, c })
        {
            Assert.True(await store.CreateAsync(record));
        }
        var d = NewRecord();

        Assert.True(await store.CreateAsync(d));

        Assert.Null(await store.LoadAsync(b.Id));
        Assert.NotNull(await store.LoadAsync(a.Id));
        Assert.NotNull(await store.LoadAsync(c.Id));
        Assert.NotNull(await store.LoadByCredentialAsync(d));
    }

    /// <summary>Touching a session makes it recently seen, so another one is evicted instead.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ATouchedSessionIsNotTheOneEvicted()
    {
        if (!SupportsCapacityBound)
        {
            return;
        }
        var store = CreateStore(maxSessions: 3, StoreCapacityPolicy.EvictLeastRecentlyUsed);
        var a = NewRecord();
        Clock.Advance(TimeSpan.FromMinutes(1));
        var b = NewRecord();
        Clock.Advance(TimeSpan.FromMinutes(1));
        var c = NewRecord();
        foreach (var record in new[] { a, b, c })
        {
            Assert.True(await store.CreateAsync(record));
        }
        Clock.Advance(TimeSpan.FromMinutes(1));
        Assert.True(await store.TouchAsync(a.Id, Now(), Now() + TimeSpan.FromMinutes(30)));

        Assert.True(await store.CreateAsync(NewRecord()));

        Assert.NotNull(await store.LoadAsync(a.Id));
        Assert.Null(await store.LoadAsync(b.Id));
        Assert.NotNull(await store.LoadAsync(c.Id));
    }

    /// <summary>A full evicting store drops expired sessions before it evicts any live one.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AFullEvictingStoreDropsExpiredSessionsBeforeLiveOnes()
    {
        if (!SupportsCapacityBound)
        {
            return;
        }
        var store = CreateStore(maxSessions: 3, StoreCapacityPolicy.EvictLeastRecentlyUsed);
        var now = Now();
        var oldest = NewRecord(lastSeenAt: now.AddMinutes(-20), createdAt: now.AddMinutes(-20), idle: TimeSpan.FromHours(1));
        var older = NewRecord(lastSeenAt: now.AddMinutes(-10), createdAt: now.AddMinutes(-10), idle: TimeSpan.FromHours(1));

        // The expiring session is the most recently seen, so least-recently-used eviction alone would keep it.
        await AssertAnExpiredSessionMakesRoomAsync(store, oldest, older);
    }

    /// <summary>A full rejecting store refuses a new session and keeps every existing one.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AFullRejectingStoreRefusesANewSessionAndKeepsTheOthers()
    {
        if (!SupportsCapacityBound)
        {
            return;
        }
        var store = CreateStore(maxSessions: 3, StoreCapacityPolicy.Reject);
        var records = Enumerable.Range(0, 3).Select(_ => NewRecord()).ToList();
        foreach (var record in records)
        {
            Assert.True(await store.CreateAsync(record));
        }
        var refused = NewRecord();

        await Assert.ThrowsAsync<SessionStoreFullException>(async () => await store.CreateAsync(refused));

        Assert.Null(await store.LoadAsync(refused.Id));
        Assert.Null(await store.LoadByCredentialAsync(refused));
        foreach (var record in records)
        {
            AssertSameRecord(record, await store.LoadByCredentialAsync(record));
        }
    }

    /// <summary>A full rejecting store makes room when one of its sessions has expired.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AFullRejectingStoreAcceptsANewSessionOnceOneHasExpired()
    {
        if (!SupportsCapacityBound)
        {
            return;
        }
        var store = CreateStore(maxSessions: 3, StoreCapacityPolicy.Reject);
        var live1 = NewRecord(idle: TimeSpan.FromHours(1));
        var live2 = NewRecord(idle: TimeSpan.FromHours(1));

        await AssertAnExpiredSessionMakesRoomAsync(store, live1, live2);
    }

    /// <summary>
    /// Fills a store bounded at three with <paramref name="first"/>, <paramref name="second"/> and a session that expires
    /// a minute later, moves the clock past that, and checks that a new session is created in the expired one's place
    /// while both others stay.
    /// </summary>
    private async Task AssertAnExpiredSessionMakesRoomAsync(ISessionStore store, SessionRecord first, SessionRecord second)
    {
        var expiring = NewRecord(idle: TimeSpan.FromMinutes(1));
        foreach (var record in new[] { first, second, expiring })
        {
            Assert.True(await store.CreateAsync(record));
        }
        Clock.Advance(TimeSpan.FromMinutes(2));
        var fresh = NewRecord();

        Assert.True(await store.CreateAsync(fresh));

        Assert.NotNull(await store.LoadAsync(first.Id));
        Assert.NotNull(await store.LoadAsync(second.Id));
        Assert.NotNull(await store.LoadAsync(fresh.Id));
    }

    /// <summary>A store below its bound creates sessions without evicting or refusing anything.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AStoreBelowItsBoundKeepsEverySession()
    {
        if (!SupportsCapacityBound)
        {
            return;
        }
        foreach (var policy in new[] { StoreCapacityPolicy.EvictLeastRecentlyUsed, StoreCapacityPolicy.Reject })
        {
            var store = CreateStore(maxSessions: 3, policy);
            var records = Enumerable.Range(0, 3).Select(_ => NewRecord()).ToList();
            foreach (var record in records)
            {
                Assert.True(await store.CreateAsync(record));
            }
            foreach (var record in records)
            {
                Assert.NotNull(await store.LoadAsync(record.Id));
            }
        }
    }
}
