using Microsoft.Extensions.Time.Testing;
using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Tessera.Testing;

namespace Tessera.Tests;

public sealed class SessionCleanupServiceTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly InMemorySessionStore _memory;
    private readonly CountingSessionStore _store;

    public SessionCleanupServiceTests()
    {
        _memory = new InMemorySessionStore(_clock);
        _store = new CountingSessionStore(_memory);
    }

    private static IOptions<TesseraOptions> Settings(int batchSize = 1000, bool enabled = true) => Options.Create(new TesseraOptions
    {
        CleanupInterval = TimeSpan.FromMinutes(5),
        CleanupBatchSize = batchSize,
        CleanupEnabled = enabled,
    });

    private async Task<List<SessionRecord>> AddSessionsAsync(int count, TimeSpan idle)
    {
        var now = _clock.GetUtcNow();
        var records = new List<SessionRecord>();
        for (var i = 0; i < count; i++)
        {
            var record = new SessionRecord
            {
                Id = Convert.ToHexString(RandomNumberGenerator.GetBytes(8)),
                CredentialHash = RandomNumberGenerator.GetBytes(32),
                CreatedAt = now,
                LastSeenAt = now,
                IdleExpiresAt = now + idle,
                AbsoluteExpiresAt = now + TimeSpan.FromHours(8),
            };
            Assert.True(await _memory.CreateAsync(record));
            records.Add(record);
        }
        return records;
    }

    /// <summary>Waits, without sleeping through time, for work that another thread does in response to the clock.</summary>
    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(watch.Elapsed < Patience, $"timed out waiting until {what}");
            await Task.Delay(TimeSpan.FromMilliseconds(5)); // lets the background loop run; the fake clock drives expiry
        }
    }

    [Fact]
    public async Task TheTimerDeletesExpiredSessionsWhenTheIntervalPasses()
    {
        var clock = new TimerWatchingClock(_clock);
        var service = new SessionCleanupService(_store, Settings(), clock);
        var expiring = await AddSessionsAsync(7, TimeSpan.FromMinutes(3));
        var live = await AddSessionsAsync(2, TimeSpan.FromHours(1));

        await service.StartAsync(CancellationToken.None);
        try
        {
            await clock.TimerCreated.WaitAsync(Patience);
            _clock.Advance(TimeSpan.FromMinutes(4));
            Assert.Equal(0, _store.Count(nameof(ISessionStoreCleanup.DeleteExpiredAsync)));
            Assert.Equal(9, _memory.RecordCount);

            _clock.Advance(TimeSpan.FromMinutes(1));

            await WaitUntilAsync(() => _memory.RecordCount == 2, "the expired sessions are deleted");
            Assert.All(expiring, r => Assert.Null(_memory.LoadAsync(r.Id).AsTask().Result));
            foreach (var record in live)
            {
                Assert.NotNull(await _memory.LoadAsync(record.Id));
            }
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task TheBackgroundRunPausesBetweenFullBatchesOnTheInjectedClock()
    {
        var clock = new TimerWatchingClock(_clock);
        var settings = Settings(batchSize: 2);
        settings.Value.CleanupBatchPause = TimeSpan.FromSeconds(1);
        var service = new SessionCleanupService(_store, settings, clock);
        await AddSessionsAsync(5, TimeSpan.FromMinutes(1));

        await service.StartAsync(CancellationToken.None);
        try
        {
            await clock.TimerCreated.WaitAsync(Patience);
            _clock.Advance(TimeSpan.FromMinutes(5));
            await WaitUntilAsync(() => clock.DueTimes.Count(d => d == TimeSpan.FromSeconds(1)) == 1, "the run pauses after its first full batch");
            Assert.Equal(1, _store.Count("DeleteExpired")); // the clock stands still, so the pause holds
            Assert.Equal(3, _memory.RecordCount);

            _clock.Advance(TimeSpan.FromSeconds(1));
            await WaitUntilAsync(() => clock.DueTimes.Count(d => d == TimeSpan.FromSeconds(1)) == 2, "the run pauses after its second full batch");
            Assert.Equal(2, _store.Count("DeleteExpired"));
            Assert.Equal(1, _memory.RecordCount);

            _clock.Advance(TimeSpan.FromSeconds(1));
            await WaitUntilAsync(() => _memory.RecordCount == 0, "the last, short batch runs");
            Assert.Equal(3, _store.Count("DeleteExpired"));
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task ABatchSlowerThanThePauseIsFollowedByAPauseAsLongAsItTook()
    {
        var clock = new TimerWatchingClock(_clock);
        var slow = new SlowCleanupStore(_memory, _clock, TimeSpan.FromSeconds(3));
        var service = new SessionCleanupService(slow, Settings(batchSize: 2), clock);
        await AddSessionsAsync(3, TimeSpan.FromMinutes(1));

        await service.StartAsync(CancellationToken.None);
        try
        {
            await clock.TimerCreated.WaitAsync(Patience);
            _clock.Advance(TimeSpan.FromMinutes(5));
            slow.Proceed.SetResult(); // only now, so the batch's own clock move cannot race the test's
            // The batch "took" 3 s of the clock, more than the 10 ms pause: cleanup waits 3 s before the next one.
            await WaitUntilAsync(() => clock.DueTimes.Contains(TimeSpan.FromSeconds(3)), "the run pauses as long as its batch took");
            Assert.Equal(1, _memory.RecordCount);

            _clock.Advance(TimeSpan.FromSeconds(3));
            await WaitUntilAsync(() => _memory.RecordCount == 0, "the next batch runs after the pause");
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task RunOnceWithAPauseWaitsOnTheServicesClockBetweenFullBatches()
    {
        await AddSessionsAsync(3, TimeSpan.FromMinutes(1));
        _clock.Advance(TimeSpan.FromMinutes(2));
        var clock = new TimerWatchingClock(_clock);
        var service = new SessionCleanupService(_store, Settings(batchSize: 2), clock);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => service.RunOnceAsync(TimeSpan.FromMilliseconds(-1)));

        var run = service.RunOnceAsync(TimeSpan.FromSeconds(1));
        await clock.TimerCreated.WaitAsync(Patience);
        Assert.False(run.IsCompleted); // paused after the first full batch
        Assert.Equal(1, _memory.RecordCount);

        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(3, await run.WaitAsync(Patience));
        Assert.Equal(2, _store.Count("DeleteExpired"));
    }

    [Fact]
    public async Task RunOnceRunsItsBatchesBackToBackWithoutPausing()
    {
        var settings = Settings(batchSize: 2);
        settings.Value.CleanupBatchPause = TimeSpan.FromMinutes(1);
        await AddSessionsAsync(5, TimeSpan.FromMinutes(1));
        _clock.Advance(TimeSpan.FromMinutes(2));

        Assert.Equal(5, await new SessionCleanupService(_store, settings, _clock).RunOnceAsync().WaitAsync(Patience));
        Assert.Equal(3, _store.Count("DeleteExpired"));
    }

    [Fact]
    public async Task TheTimerKeepsFiringEveryInterval()
    {
        var clock = new TimerWatchingClock(_clock);
        var service = new SessionCleanupService(_store, Settings(), clock);
        await service.StartAsync(CancellationToken.None);
        try
        {
            await clock.TimerCreated.WaitAsync(Patience);
            _clock.Advance(TimeSpan.FromMinutes(5));
            await WaitUntilAsync(() => _store.Count("DeleteExpired") == 1, "the first run happens");

            await AddSessionsAsync(3, TimeSpan.FromMinutes(1));
            _clock.Advance(TimeSpan.FromMinutes(5));

            await WaitUntilAsync(() => _memory.RecordCount == 0, "the second run deletes the new expired sessions");
            Assert.Equal(2, _store.Count("DeleteExpired"));
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task DisabledCleanupNeverStartsATimer()
    {
        var clock = new TimerWatchingClock(_clock);
        var service = new SessionCleanupService(_store, Settings(enabled: false), clock);
        await AddSessionsAsync(2, TimeSpan.FromMinutes(1));

        await service.StartAsync(CancellationToken.None);
        await service.ExecuteTask!.WaitAsync(Patience); // returns at once when disabled
        _clock.Advance(TimeSpan.FromHours(1));
        await service.StopAsync(CancellationToken.None);

        Assert.False(clock.TimerCreated.IsCompleted);
        Assert.Equal(0, _store.Calls);
        Assert.Equal(2, _memory.RecordCount);
    }

    [Fact]
    public async Task RunOnceDeletesInBatchesUntilNoneAreLeft()
    {
        var service = new SessionCleanupService(_store, Settings(batchSize: 10), _clock);
        await AddSessionsAsync(25, TimeSpan.FromMinutes(1));
        var live = await AddSessionsAsync(4, TimeSpan.FromHours(1));
        _clock.Advance(TimeSpan.FromMinutes(2));

        var deleted = await service.RunOnceAsync();

        Assert.Equal(25, deleted);
        Assert.Equal(3, _store.Count(nameof(ISessionStoreCleanup.DeleteExpiredAsync))); // 10, 10, 5
        Assert.Equal(4, _memory.RecordCount);
        foreach (var record in live)
        {
            Assert.NotNull(await _memory.LoadAsync(record.Id));
        }
    }

    [Fact]
    public async Task RunOnceWithAnExactMultipleOfTheBatchAsksOnceMoreToBeSure()
    {
        var service = new SessionCleanupService(_store, Settings(batchSize: 10), _clock);
        await AddSessionsAsync(20, TimeSpan.FromMinutes(1));
        _clock.Advance(TimeSpan.FromMinutes(2));

        Assert.Equal(20, await service.RunOnceAsync());

        Assert.Equal(3, _store.Count(nameof(ISessionStoreCleanup.DeleteExpiredAsync))); // 10, 10, 0
        Assert.Equal(0, _memory.RecordCount);
    }

    [Fact]
    public async Task RevokedSessionsStayUntilExpiryUnlessARetentionIsSet()
    {
        var records = await AddSessionsAsync(3, TimeSpan.FromHours(1));
        await _memory.RevokeAsync(records[0].Id, _clock.GetUtcNow());
        _clock.Advance(TimeSpan.FromMinutes(20));
        await _memory.RevokeAsync(records[1].Id, _clock.GetUtcNow());
        _clock.Advance(TimeSpan.FromMinutes(5));

        Assert.Equal(0, await new SessionCleanupService(_store, Settings(), _clock).RunOnceAsync());
        Assert.Equal(3, _memory.RecordCount);

        var retained = Options.Create(new TesseraOptions { RevokedRetention = TimeSpan.FromMinutes(15) });
        Assert.Equal(1, await new SessionCleanupService(_store, retained, _clock).RunOnceAsync());

        Assert.Equal(2, _memory.RecordCount);
        Assert.NotNull(await _memory.LoadAsync(records[2].Id));
    }

    [Fact]
    public async Task RunOnceOnAStoreWithoutCleanupDoesNothing()
    {
        var service = new SessionCleanupService(new RequiredOnlyStore(new InMemorySessionStore()), Settings(), _clock);

        Assert.Equal(0, await service.RunOnceAsync());
    }

    [Fact]
    public async Task AFailingRunIsLoggedAndTheNextIntervalRunsAgain()
    {
        var failing = new CountingSessionStore(new RequiredOnlyStore(new InMemorySessionStore())); // DeleteExpiredAsync throws NotSupportedException
        var clock = new TimerWatchingClock(_clock);
        var logger = new TestLogger<SessionCleanupService>();
        var service = new SessionCleanupService(failing, Settings(), clock, logger);
        await service.StartAsync(CancellationToken.None);
        try
        {
            await clock.TimerCreated.WaitAsync(Patience);
            _clock.Advance(TimeSpan.FromMinutes(5));
            await WaitUntilAsync(() => logger.Entries.Count == 1, "the failure is logged");
            _clock.Advance(TimeSpan.FromMinutes(5));
            await WaitUntilAsync(() => logger.Entries.Count == 2, "the second failure is logged");

            Assert.All(logger.Entries, e => Assert.Equal(1007, e.EventId.Id));
            Assert.Equal(2, failing.Count("DeleteExpired"));
            Assert.False(service.ExecuteTask!.IsCompleted);
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>A clock that reports when a timer is created, so a test advances only once the service is waiting.</summary>
    private sealed class TimerWatchingClock(FakeTimeProvider inner) : TimeProvider
    {
        private readonly TaskCompletionSource _created = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly System.Collections.Concurrent.ConcurrentQueue<TimeSpan> _dueTimes = new();

        public Task TimerCreated => _created.Task;

        /// <summary>The due time of every timer created so far (the cleanup interval, then any pauses).</summary>
        public IReadOnlyCollection<TimeSpan> DueTimes => _dueTimes;

        public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

        public override long GetTimestamp() => inner.GetTimestamp();

        public override long TimestampFrequency => inner.TimestampFrequency;

        public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = inner.CreateTimer(callback, state, dueTime, period);
            _dueTimes.Enqueue(dueTime);
            _created.TrySetResult();
            return timer;
        }
    }

    /// <summary>Fault injection: a store whose cleanup batches take <paramref name="perBatch"/> of the fake clock.</summary>
    private sealed class SlowCleanupStore(InMemorySessionStore inner, FakeTimeProvider clock, TimeSpan perBatch) : RequiredOnlyStore(inner), ISessionStoreCleanup
    {
        /// <summary>Batches wait for this, so the test's own clock moves are over before a batch moves the clock.</summary>
        public TaskCompletionSource Proceed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async ValueTask<int> DeleteExpiredAsync(int batchSize, CancellationToken cancellationToken = default)
        {
            await Proceed.Task.WaitAsync(cancellationToken);
            var deleted = await inner.DeleteExpiredAsync(batchSize, cancellationToken);
            clock.Advance(perBatch);
            return deleted;
        }

        public ValueTask<int> DeleteRevokedAsync(DateTimeOffset revokedBefore, int batchSize, CancellationToken cancellationToken = default) =>
            inner.DeleteRevokedAsync(revokedBefore, batchSize, cancellationToken);
    }
}
