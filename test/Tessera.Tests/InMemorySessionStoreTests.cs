using Microsoft.Extensions.Time.Testing;
using System.Security.Cryptography;
using Tessera.Testing;

namespace Tessera.Tests;

/// <summary>What the memory store does beyond the shared contract: its bound and its record count.</summary>
public sealed class InMemorySessionStoreTests
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);

    private SessionRecord NewRecord(TimeSpan? idle = null)
    {
        var now = _clock.GetUtcNow();
        return new SessionRecord
        {
            Id = Convert.ToHexString(RandomNumberGenerator.GetBytes(8)),
            CredentialHash = RandomNumberGenerator.GetBytes(32),
            CreatedAt = now,
            LastSeenAt = now,
            IdleExpiresAt = now + (idle ?? TimeSpan.FromMinutes(30)),
            AbsoluteExpiresAt = now + TimeSpan.FromHours(8),
        };
    }

    [Fact]
    public void ABoundBelowOneIsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new InMemorySessionStore(_clock, new InMemorySessionStoreOptions { MaxSessions = 0 }));
    }

    [Fact]
    public void TheDefaultBoundIsAHundredThousandSessionsWithEviction()
    {
        var options = new InMemorySessionStoreOptions();

        Assert.Equal(100_000, options.MaxSessions);
        Assert.Equal(StoreCapacityPolicy.EvictLeastRecentlyUsed, options.CapacityPolicy);
    }

    [Fact]
    public async Task RevokedAndExpiredRecordsCountUntilCleanupRemovesThem()
    {
        var store = new InMemorySessionStore(_clock);
        var revoked = NewRecord();
        var expiring = NewRecord(TimeSpan.FromMinutes(1));
        Assert.True(await store.CreateAsync(revoked));
        Assert.True(await store.CreateAsync(expiring));
        Assert.True(await store.CreateAsync(NewRecord()));
        Assert.True(await store.RevokeAsync(revoked.Id, _clock.GetUtcNow()));
        _clock.Advance(TimeSpan.FromMinutes(2));

        Assert.Equal(3, store.RecordCount);
        Assert.Equal(1, await store.CountAsync());

        Assert.Equal(1, await store.DeleteExpiredAsync(10));
        Assert.Equal(2, store.RecordCount);
    }

    [Fact]
    public async Task AFullStoreEvictsOnePercentOfItsBoundAtOnce()
    {
        var store = new InMemorySessionStore(_clock, new InMemorySessionStoreOptions { MaxSessions = 200, MaxAnonymousSessions = 200 });
        var records = new List<SessionRecord>();
        for (var i = 0; i < 200; i++)
        {
            var record = NewRecord();
            Assert.True(await store.CreateAsync(record));
            records.Add(record);
            _clock.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.True(await store.CreateAsync(NewRecord()));

        Assert.Equal(199, store.RecordCount); // 2 evicted (1% of 200), 1 added
        Assert.Null(await store.LoadAsync(records[0].Id));
        Assert.Null(await store.LoadAsync(records[1].Id));
        Assert.NotNull(await store.LoadAsync(records[2].Id));
    }

    [Fact]
    public async Task ARejectingStoreCountsRevokedRecordsAgainstItsBound()
    {
        var store = new InMemorySessionStore(_clock, new InMemorySessionStoreOptions { MaxSessions = 2, MaxAnonymousSessions = 2, CapacityPolicy = StoreCapacityPolicy.Reject });
        var revoked = NewRecord();
        Assert.True(await store.CreateAsync(revoked));
        Assert.True(await store.CreateAsync(NewRecord()));
        Assert.True(await store.RevokeAsync(revoked.Id, _clock.GetUtcNow()));

        var e = await Assert.ThrowsAsync<SessionStoreFullException>(async () => await store.CreateAsync(NewRecord()));

        Assert.Contains("2 sessions", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACancelledCallThrowsWithoutChangingAnything()
    {
        var store = new InMemorySessionStore(_clock);
        var record = NewRecord();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await store.CreateAsync(record, cancelled.Token));

        Assert.Equal(0, store.RecordCount);
    }
}
