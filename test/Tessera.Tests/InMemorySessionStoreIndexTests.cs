using Microsoft.Extensions.Time.Testing;
using System.Globalization;
using System.Security.Cryptography;
using Tessera.Testing;

namespace Tessera.Tests;

/// <summary>
/// The memory store's indexes (credential, subject, expiry, last seen, revocation): what they find, that per-subject
/// work looks at the subject's sessions only, and that after any mix of operations they agree with a full scan.
/// </summary>
public sealed class InMemorySessionStoreIndexTests
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);

    private DateTimeOffset Now => _clock.GetUtcNow();

    private SessionRecord NewRecord(string? subject = null, TimeSpan? idle = null, DateTimeOffset? createdAt = null, DateTimeOffset? lastSeenAt = null, IReadOnlyDictionary<string, string>? data = null)
    {
        var created = createdAt ?? Now;
        var seen = lastSeenAt ?? Now;
        return new SessionRecord
        {
            Id = Convert.ToHexString(RandomNumberGenerator.GetBytes(8)),
            CredentialHash = RandomNumberGenerator.GetBytes(32),
            Subject = subject,
            Data = data ?? new Dictionary<string, string>(StringComparer.Ordinal),
            CreatedAt = created,
            LastSeenAt = seen,
            IdleExpiresAt = seen + (idle ?? TimeSpan.FromMinutes(30)),
            AbsoluteExpiresAt = created + TimeSpan.FromHours(8),
        };
    }

    private async Task<InMemorySessionStore> StoreWithOthersAsync(int others)
    {
        var store = new InMemorySessionStore(_clock);
        for (var i = 0; i < others; i++)
        {
            Assert.True(await store.CreateAsync(NewRecord(subject: i % 2 == 0 ? null : $"user-{i % 50}")));
        }
        return store;
    }

    [Fact]
    public async Task ListingASubjectsSessionsLooksAtThatSubjectsSessionsOnly()
    {
        var store = await StoreWithOthersAsync(1000);
        var live = new[] { NewRecord("alice"), NewRecord("alice"), NewRecord("alice") };
        var revoked = NewRecord("alice");
        var expiring = NewRecord("alice", idle: TimeSpan.FromMinutes(1));
        foreach (var record in live.Append(revoked).Append(expiring))
        {
            Assert.True(await store.CreateAsync(record));
        }
        Assert.True(await store.RevokeAsync(revoked.Id, Now));
        _clock.Advance(TimeSpan.FromMinutes(2));

        var listed = await store.ListBySubjectAsync("alice");

        Assert.Equal(live.Select(r => r.Id).Order(StringComparer.Ordinal), listed.Select(r => r.Id).Order(StringComparer.Ordinal));
        Assert.Equal(5, store.LastSubjectScanLength); // alice's five records, not the 1,005 in the store

        for (var i = 0; i < 1000; i++)
        {
            Assert.True(await store.CreateAsync(NewRecord(subject: $"user-{i}")));
        }
        Assert.Equal(3, (await store.ListBySubjectAsync("alice")).Count);
        Assert.Equal(5, store.LastSubjectScanLength);
        Assert.Empty(await store.ListBySubjectAsync("nobody"));
        Assert.Equal(0, store.LastSubjectScanLength);
    }

    [Fact]
    public async Task TrimmingASubjectLooksAtThatSubjectsSessionsOnly()
    {
        var store = await StoreWithOthersAsync(1000);
        var start = Now;
        var oldest = NewRecord("alice", lastSeenAt: start.AddMinutes(-3));
        var middle = NewRecord("alice", lastSeenAt: start.AddMinutes(-2));
        var newest = NewRecord("alice", lastSeenAt: start.AddMinutes(-1));
        foreach (var record in new[] { oldest, middle, newest })
        {
            Assert.True(await store.CreateAsync(record));
        }

        var revoked = await store.TrimSubjectAsync("alice", 1, SessionLimitOrder.MostRecentlySeen, null, Now);

        Assert.Equal(new[] { oldest.Id, middle.Id }.Order(StringComparer.Ordinal), revoked.Order(StringComparer.Ordinal));
        Assert.Equal(3, store.LastSubjectScanLength);
        Assert.NotNull(await store.LoadAsync(newest.Id));
    }

    [Fact]
    public async Task AnOperatorListingOfOneSubjectLooksAtThatSubjectsSessionsOnly()
    {
        var store = await StoreWithOthersAsync(1000);
        var mine = Enumerable.Range(0, 4).Select(_ => NewRecord("alice")).ToList();
        foreach (var record in mine)
        {
            Assert.True(await store.CreateAsync(record));
        }
        Assert.True(await store.RevokeAsync(mine[0].Id, Now));

        var page = await store.ListSessionsAsync(new SessionQuery { Subject = "alice", PageSize = 3 });
        var rest = await store.ListSessionsAsync(new SessionQuery { Subject = "alice", Cursor = page.NextCursor });

        Assert.Equal(mine.Select(r => r.Id).Order(StringComparer.Ordinal), page.Sessions.Concat(rest.Sessions).Select(r => r.Id));
        Assert.Null(rest.NextCursor);
        Assert.Equal(4, store.LastSubjectScanLength);
    }

    [Fact]
    public async Task TheSubjectIndexFollowsSignInSignOutDeletionEvictionAndCleanup()
    {
        var store = new InMemorySessionStore(_clock, new InMemorySessionStoreOptions { MaxSessions = 4, MaxAnonymousSessions = 4 });
        var evicted = NewRecord("alice", lastSeenAt: Now.AddMinutes(-10));
        var deleted = NewRecord("alice");
        var expiring = NewRecord("alice", idle: TimeSpan.FromMinutes(1));
        var anonymous = NewRecord();
        foreach (var record in new[] { evicted, deleted, expiring, anonymous })
        {
            Assert.True(await store.CreateAsync(record));
        }

        Assert.True(await store.ApplyAsync(anonymous.Id, new SessionPatch { SubjectChanged = true, Subject = "alice" }));
        Assert.Equal(4, (await store.ListBySubjectAsync("alice")).Count);

        Assert.True(await store.CreateAsync(NewRecord("bob"))); // at the bound: evicts the least recently seen, "evicted"
        Assert.True(await store.DeleteAsync(deleted.Id));
        Assert.True(await store.ApplyAsync(anonymous.Id, new SessionPatch { SubjectChanged = true, Subject = null }));
        Assert.Equal([expiring.Id], (await store.ListBySubjectAsync("alice")).Select(r => r.Id));
        Assert.Equal(1, store.LastSubjectScanLength);

        _clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(1, await store.DeleteExpiredAsync(10));
        Assert.Empty(await store.ListBySubjectAsync("alice"));
        Assert.Equal(0, store.LastSubjectScanLength);
        Assert.Single(await store.ListBySubjectAsync("bob"));
    }

    [Fact]
    public async Task CleanupFindsASessionWhoseIdleDeadlineWasMovedEarlierAndSparesOneMovedLater()
    {
        var store = new InMemorySessionStore(_clock);
        var shortened = NewRecord(idle: TimeSpan.FromHours(1));
        var extended = NewRecord(idle: TimeSpan.FromMinutes(5));
        var patchedLater = NewRecord(idle: TimeSpan.FromMinutes(5));
        foreach (var record in new[] { shortened, extended, patchedLater })
        {
            Assert.True(await store.CreateAsync(record));
        }

        Assert.True(await store.TouchAsync(shortened.Id, Now, Now + TimeSpan.FromMinutes(1)));
        Assert.True(await store.TouchAsync(extended.Id, Now, Now + TimeSpan.FromMinutes(30)));
        Assert.True(await store.ApplyAsync(patchedLater.Id, new SessionPatch { IdleExpiresAt = Now + TimeSpan.FromMinutes(30) }));
        _clock.Advance(TimeSpan.FromMinutes(10));

        Assert.Equal(1, await store.DeleteExpiredAsync(10));
        Assert.False(await store.DeleteAsync(shortened.Id));
        Assert.NotNull(await store.LoadAsync(extended.Id));
        Assert.NotNull(await store.LoadAsync(patchedLater.Id));
    }

    [Fact]
    public async Task ABatchLargerThanOneHoldOfTheLockIsDeletedWhole()
    {
        var store = new InMemorySessionStore(_clock);
        var count = (InMemorySessionStore.DeletionsPerLock * 3) + 5;
        for (var i = 0; i < count; i++)
        {
            // Expiries spread out and created out of order, so the index, not insertion order, decides.
            Assert.True(await store.CreateAsync(NewRecord(idle: TimeSpan.FromSeconds(60 + ((i * 37) % count)))));
            Assert.True(await store.CreateAsync(NewRecord(idle: TimeSpan.FromHours(1))));
        }
        var revoked = NewRecord(idle: TimeSpan.FromHours(1));
        Assert.True(await store.CreateAsync(revoked));
        Assert.True(await store.RevokeAsync(revoked.Id, Now));
        _clock.Advance(TimeSpan.FromMinutes(30));

        var batch = InMemorySessionStore.DeletionsPerLock * 2 + 1;
        Assert.Equal(batch, await store.DeleteExpiredAsync(batch));
        Assert.Equal(count - batch, await store.DeleteExpiredAsync(batch));
        Assert.Equal(0, await store.DeleteExpiredAsync(batch));
        Assert.Equal(count + 1, store.RecordCount);
        Assert.Equal(count, await store.CountAsync());
        Assert.Equal(1, await store.DeleteRevokedAsync(Now, batch));
    }

    [Fact]
    public async Task CleanupBesideConcurrentReadersDeletesEveryExpiredSessionAndHidesNoLiveOne()
    {
        var store = new InMemorySessionStore(_clock);
        for (var i = 0; i < 5000; i++)
        {
            Assert.True(await store.CreateAsync(NewRecord(idle: TimeSpan.FromMinutes(1))));
        }
        var live = Enumerable.Range(0, 200).Select(_ => NewRecord(idle: TimeSpan.FromHours(1))).ToList();
        foreach (var record in live)
        {
            Assert.True(await store.CreateAsync(record));
        }
        _clock.Advance(TimeSpan.FromMinutes(2));
        using var done = new CancellationTokenSource();

        var readers = Enumerable.Range(0, 4).Select(r => Task.Run(async () =>
        {
            var misses = 0;
            for (var i = r; !done.IsCancellationRequested; i++)
            {
                misses += await store.LoadByCredentialAsync(live[i % live.Count].CredentialHash) is null ? 1 : 0;
            }
            return misses;
        })).ToArray();
        var deleted = await Task.Run(async () =>
        {
            var total = 0;
            int batch;
            do
            {
                batch = await store.DeleteExpiredAsync(100);
                total += batch;
            }
            while (batch == 100);
            return total;
        });
        await done.CancelAsync();

        Assert.Equal(5000, deleted);
        Assert.All(await Task.WhenAll(readers), misses => Assert.Equal(0, misses));
        Assert.Equal(live.Count, store.RecordCount);
    }

    [Fact]
    public async Task RevokedSessionsAreDeletedEarliestRevocationFirstAcrossManyHoldsOfTheLock()
    {
        var store = new InMemorySessionStore(_clock);
        var records = Enumerable.Range(0, InMemorySessionStore.DeletionsPerLock * 2).Select(_ => NewRecord()).ToList();
        foreach (var record in records)
        {
            Assert.True(await store.CreateAsync(record));
        }
        var start = Now;
        // Revoked in reverse order of creation, with revocation times of their own.
        for (var i = records.Count - 1; i >= 0; i--)
        {
            Assert.True(await store.RevokeAsync(records[i].Id, start.AddSeconds(records.Count - i)));
        }

        var cutOff = start.AddSeconds(records.Count / 2);
        Assert.Equal(records.Count / 2, await store.DeleteRevokedAsync(cutOff, records.Count));

        for (var i = 0; i < records.Count; i++)
        {
            // records[i] was revoked at start + (Count - i) s: the later half of the list was deleted.
            Assert.Equal(i < records.Count / 2, await store.DeleteAsync(records[i].Id));
        }
    }

    [Fact]
    public async Task EvictionFollowsTheLastSeenTimeThatPatchesAndTouchesSet()
    {
        var store = new InMemorySessionStore(_clock, new InMemorySessionStoreOptions { MaxSessions = 3, MaxAnonymousSessions = 3 });
        var start = Now;
        var a = NewRecord(lastSeenAt: start.AddMinutes(-30), idle: TimeSpan.FromHours(1));
        var b = NewRecord(lastSeenAt: start.AddMinutes(-20), idle: TimeSpan.FromHours(1));
        var c = NewRecord(lastSeenAt: start.AddMinutes(-10), idle: TimeSpan.FromHours(1));
        foreach (var record in new[] { a, b, c })
        {
            Assert.True(await store.CreateAsync(record));
        }
        Assert.True(await store.ApplyAsync(a.Id, new SessionPatch { LastSeenAt = start }));
        Assert.True(await store.TouchAsync(b.Id, start.AddMinutes(-1), start.AddMinutes(29)));

        Assert.True(await store.CreateAsync(NewRecord()));
        Assert.Null(await store.LoadAsync(c.Id));

        Assert.True(await store.CreateAsync(NewRecord()));
        Assert.Null(await store.LoadAsync(b.Id));
        Assert.NotNull(await store.LoadAsync(a.Id));
    }

    [Fact]
    public async Task ARecordHandedOutSharesNothingTheCallerCanChange()
    {
        var store = new InMemorySessionStore(_clock);
        var given = new Dictionary<string, string>(StringComparer.Ordinal) { ["cart"] = "[1]" };
        var record = NewRecord(data: given);
        Assert.True(await store.CreateAsync(record));
        given["cart"] = "[2]";
        given["extra"] = "true";

        var first = await store.LoadByCredentialAsync(record.CredentialHash);
        var second = await store.LoadByCredentialAsync(record.CredentialHash);

        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.Equal("[1]", first.Data["cart"]);
        Assert.Single(first.Data);
        Assert.IsNotAssignableFrom<IDictionary<string, string>>(first.Data); // no cast back to something writable
        Assert.NotSame(first.CredentialHash, second.CredentialHash);
    }

    [Fact]
    public async Task LoadingByCredentialAllocatesNoMoreThanTheRecordAndItsOwnHash()
    {
        var store = await StoreWithOthersAsync(100);
        var record = NewRecord("alice", data: new Dictionary<string, string>(StringComparer.Ordinal) { ["cart"] = "[1]" });
        Assert.True(await store.CreateAsync(record));
        var hash = record.CredentialHash;
        var copy = record with { Subject = "bob" };

        var load = Allocated(() => store.LoadByCredentialAsync(hash).Result);
        var recordAndHash = Allocated(() => copy with { CredentialHash = (byte[])hash.Clone() });

        Assert.True(load <= recordAndHash, $"a load allocated {load} bytes; a record and a hash take {recordAndHash}");
    }

    private static long Allocated(Func<object?> call)
    {
        call(); // first calls may allocate for the JIT
        call();
        var before = GC.GetAllocatedBytesForCurrentThread();
        var result = call();
        var bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        GC.KeepAlive(result);
        return bytes;
    }

    [Fact]
    public async Task CredentialHashesOfAnyLengthAreFound()
    {
        var store = new InMemorySessionStore(_clock);
        var records = new[] { 0, 1, 7, 8, 9, 64 }.Select(length => NewRecord() with { CredentialHash = RandomNumberGenerator.GetBytes(length) }).ToList();
        foreach (var record in records)
        {
            Assert.True(await store.CreateAsync(record));
        }

        foreach (var record in records)
        {
            Assert.Equal(record.Id, (await store.LoadByCredentialAsync(record.CredentialHash))?.Id);
        }
        // Same first eight bytes, different rest: a different credential.
        var twin = (byte[])records[^1].CredentialHash.Clone();
        twin[^1] ^= 1;
        Assert.Null(await store.LoadByCredentialAsync(twin));
    }

    [Fact]
    public async Task ClearingEmptiesEveryIndex()
    {
        var store = new InMemorySessionStore(_clock);
        var record = NewRecord("alice", idle: TimeSpan.FromMinutes(1));
        var revoked = NewRecord("alice");
        Assert.True(await store.CreateAsync(record));
        Assert.True(await store.CreateAsync(revoked));
        Assert.True(await store.RevokeAsync(revoked.Id, Now));

        Assert.Equal(2, await store.ClearAsync());

        Assert.Empty(await store.ListBySubjectAsync("alice"));
        Assert.Null(await store.LoadByCredentialAsync(record.CredentialHash));
        _clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(0, await store.DeleteExpiredAsync(10));
        Assert.Equal(0, await store.DeleteRevokedAsync(Now, 10));
        Assert.True(await store.CreateAsync(record with { IdleExpiresAt = Now + TimeSpan.FromMinutes(1) }));
    }

    /// <summary>
    /// A seeded random mix of every operation against a store and a plain list of what it should hold; after each step
    /// the indexed answers (by credential, by subject, cleanup, eviction) must equal what a full scan of the list gives.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task RandomOperationsKeepEveryIndexInStepWithAFullScan(int seed)
    {
        const int Bound = 15;
        var random = new Random(seed);
        var store = new InMemorySessionStore(_clock, new InMemorySessionStoreOptions { MaxSessions = Bound, MaxAnonymousSessions = Bound });
        var model = new Dictionary<string, SessionRecord>(StringComparer.Ordinal);
        string[] subjects = ["alice", "bob", "carol"];
        string? AnySubject() => random.Next(4) is var i && i < subjects.Length ? subjects[i] : null;
        SessionRecord? AnyRecord() => model.Count == 0 ? null : model.Values.ElementAt(random.Next(model.Count));

        for (var step = 0; step < 1500; step++)
        {
            var now = Now;
            switch (random.Next(10))
            {
                case 0 or 1:
                {
                    var record = NewRecord(AnySubject(), idle: TimeSpan.FromSeconds(random.Next(1, 3600)), lastSeenAt: now.AddSeconds(-random.Next(300)));
                    var before = model.Values.ToList();
                    var expired = before.Where(r => r.ExpiresAt <= now).ToList();
                    var anonymous = before.Where(r => r.Subject is null).ToList();
                    if (before.Count >= Bound && expired.Count == 0 && anonymous.Count == 0 && record.Subject is null)
                    {
                        // Full of live signed-in sessions: none of them is given up for an anonymous newcomer.
                        await Assert.ThrowsAsync<SessionStoreFullException>(async () => await store.CreateAsync(record));
                        Assert.Empty(await GoneAsync(store, before));
                        break;
                    }
                    Assert.True(await store.CreateAsync(record));
                    model[record.Id] = record;
                    if (before.Count >= Bound)
                    {
                        // At the bound one session went (1% of the bound, at least one): an expired one with the earliest
                        // expiry if any had expired, else the anonymous one seen least recently, else the signed-in one
                        // seen least recently. Which of equals is the store's choice.
                        var gone = Assert.Single(await GoneAsync(store, before));
                        if (expired.Count > 0)
                        {
                            Assert.Equal(expired.Min(r => r.ExpiresAt), gone.ExpiresAt);
                        }
                        else if (anonymous.Count > 0)
                        {
                            Assert.Null(gone.Subject);
                            Assert.Equal(anonymous.Min(r => r.LastSeenAt), gone.LastSeenAt);
                        }
                        else
                        {
                            Assert.Equal(before.Min(r => r.LastSeenAt), gone.LastSeenAt);
                        }
                        model.Remove(gone.Id);
                    }
                    break;
                }
                case 2 when AnyRecord() is { } record:
                {
                    var seen = now.AddSeconds(-random.Next(300));
                    var idle = seen.AddSeconds(random.Next(1, 600)); // earlier or later than before
                    var applied = await store.TouchAsync(record.Id, seen, idle);
                    Assert.Equal(record.IsActiveAt(now), applied);
                    if (applied)
                    {
                        model[record.Id] = record with { LastSeenAt = seen, IdleExpiresAt = idle };
                    }
                    break;
                }
                case 3 when AnyRecord() is { } record:
                {
                    var subject = AnySubject();
                    var newHash = random.Next(3) == 0 ? RandomNumberGenerator.GetBytes(32) : null;
                    var patch = new SessionPatch
                    {
                        SubjectChanged = true,
                        Subject = subject,
                        NewCredentialHash = newHash,
                        Set = new Dictionary<string, string>(StringComparer.Ordinal) { [$"k{random.Next(12)}"] = step.ToString(CultureInfo.InvariantCulture) },
                        IdleExpiresAt = random.Next(2) == 0 ? now.AddSeconds(random.Next(1, 600)) : null,
                    };
                    var applied = await store.ApplyAsync(record.Id, patch);
                    Assert.Equal(record.IsActiveAt(now), applied);
                    if (applied)
                    {
                        var data = new Dictionary<string, string>(record.Data, StringComparer.Ordinal);
                        foreach (var (key, value) in patch.Set)
                        {
                            data[key] = value;
                        }
                        model[record.Id] = record with
                        {
                            Subject = subject,
                            CredentialHash = newHash ?? record.CredentialHash,
                            Data = data,
                            IdleExpiresAt = patch.IdleExpiresAt ?? record.IdleExpiresAt,
                        };
                    }
                    break;
                }
                case 4 when AnyRecord() is { } record:
                {
                    Assert.Equal(record.RevokedAt is null, await store.RevokeAsync(record.Id, now));
                    if (record.RevokedAt is null)
                    {
                        model[record.Id] = record with { RevokedAt = now };
                    }
                    break;
                }
                case 5 when AnyRecord() is { } record:
                    Assert.True(await store.DeleteAsync(record.Id));
                    model.Remove(record.Id);
                    break;
                case 6:
                {
                    var batch = random.Next(1, 40);
                    var expired = model.Values.Count(r => r.ExpiresAt <= now);
                    Assert.Equal(Math.Min(batch, expired), await store.DeleteExpiredAsync(batch));
                    // The earliest expiries go first; which of equals is the store's choice, so read it back.
                    var gone = await GoneAsync(store, model.Values);
                    Assert.Equal(Math.Min(batch, expired), gone.Count);
                    Assert.All(gone, r => Assert.True(r.ExpiresAt <= now));
                    foreach (var record in gone)
                    {
                        model.Remove(record.Id);
                    }
                    var earliestLeft = model.Values.Where(r => r.ExpiresAt <= now).Select(r => r.ExpiresAt).DefaultIfEmpty(DateTimeOffset.MaxValue).Min();
                    Assert.All(gone, r => Assert.True(r.ExpiresAt <= earliestLeft));
                    break;
                }
                case 7:
                {
                    var cutOff = now.AddSeconds(-random.Next(120));
                    var revoked = model.Values.Where(r => r.RevokedAt <= cutOff).ToList();
                    Assert.Equal(revoked.Count, await store.DeleteRevokedAsync(cutOff, Bound));
                    foreach (var gone in revoked)
                    {
                        model.Remove(gone.Id);
                    }
                    break;
                }
                case 8:
                {
                    var subject = subjects[random.Next(subjects.Length)];
                    var live = model.Values.Where(r => r.Subject == subject && r.IsActiveAt(now)).ToList();
                    var keep = random.Next(1, 4);
                    var revoked = await store.TrimSubjectAsync(subject, keep, SessionLimitOrder.OldestCreated, null, now);
                    var expected = live.OrderBy(r => r.CreatedAt).ThenBy(r => r.Id, StringComparer.Ordinal).Skip(keep).Select(r => r.Id).ToList();
                    Assert.Equal(expected.Order(StringComparer.Ordinal), revoked.Order(StringComparer.Ordinal));
                    foreach (var id in revoked)
                    {
                        model[id] = model[id] with { RevokedAt = now };
                    }
                    break;
                }
                default:
                    _clock.Advance(TimeSpan.FromSeconds(random.Next(1, 60)));
                    break;
            }

            await AssertAgreesAsync(store, model, subjects, Now);
        }
    }

    // The records of a list that the store no longer holds in any state.
    private static async Task<List<SessionRecord>> GoneAsync(InMemorySessionStore store, IEnumerable<SessionRecord> records)
    {
        var page = await store.ListSessionsAsync(new SessionQuery { PageSize = SessionQuery.MaxPageSize });
        Assert.Null(page.NextCursor);
        var held = page.Sessions.Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        return [.. records.Where(r => !held.Contains(r.Id))];
    }

    private static async Task AssertAgreesAsync(InMemorySessionStore store, Dictionary<string, SessionRecord> model, string[] subjects, DateTimeOffset now)
    {
        Assert.Equal(model.Count, store.RecordCount);
        Assert.Equal(model.Values.Count(r => r.IsActiveAt(now)), await store.CountAsync());
        foreach (var record in model.Values)
        {
            var found = await store.LoadByCredentialAsync(record.CredentialHash);
            Assert.Equal(record.IsActiveAt(now) ? record.Id : null, found?.Id);
        }
        foreach (var subject in subjects)
        {
            var expected = model.Values.Where(r => r.Subject == subject && r.IsActiveAt(now))
                .OrderBy(r => r.CreatedAt).ThenBy(r => r.Id, StringComparer.Ordinal).Select(r => r.Id);
            Assert.Equal(expected, (await store.ListBySubjectAsync(subject)).Select(r => r.Id));
            Assert.Equal(model.Values.Count(r => r.Subject == subject), store.LastSubjectScanLength);
        }
    }
}
