using Xunit;

namespace Tessera.Testing;

// The administration tests (ISessionStoreAdministration): listing page by page, statistics, clearing.
public abstract partial class SessionStoreConformanceTests<TKit>
    where TKit : StoreKit, new()
{
    /// <summary>Walking every page lists each session exactly once, with its data, in pages no larger than asked.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ListingEveryPageGivesEachSessionExactlyOnce()
    {
        var store = CreateStore();
        if (Capability<ISessionStoreAdministration>(store, SupportsAdministration, nameof(SupportsAdministration)) is not { } admin)
        {
            return;
        }
        var created = new List<SessionRecord>();
        for (var i = 0; i < 23; i++)
        {
            var record = NewRecord(subject: i % 2 == 0 ? "even" : null, data: Data(("n", i.ToString(System.Globalization.CultureInfo.InvariantCulture))), idle: TimeSpan.FromMinutes(10 + (i % 5)));
            Assert.True(await store.CreateAsync(record));
            created.Add(record);
        }

        var seen = await ListAllAsync(admin, new SessionQuery { PageSize = 5 }, maxPageSize: 5);

        Assert.Equal(created.Select(r => r.Id).Order(StringComparer.Ordinal), seen.Select(r => r.Id).Order(StringComparer.Ordinal));
        foreach (var record in created)
        {
            AssertSameRecord(record, seen.Single(r => r.Id == record.Id));
        }
        var again = await ListAllAsync(admin, new SessionQuery { PageSize = 5 }, maxPageSize: 5);
        Assert.Equal(seen.Select(r => r.Id), again.Select(r => r.Id)); // the order is stable
    }

    /// <summary>Listing by state and by subject gives exactly the sessions in that state or of that subject.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ListingFiltersByStateAndSubject()
    {
        var store = CreateStore();
        if (Capability<ISessionStoreAdministration>(store, SupportsAdministration, nameof(SupportsAdministration)) is not { } admin)
        {
            return;
        }
        var shortLived = NewRecord(subject: "alice", idle: TimeSpan.FromMinutes(1));
        var live = NewRecord(subject: "alice");
        var revoked = NewRecord(subject: "bob");
        var anonymous = NewRecord();
        foreach (var record in new[] { shortLived, live, revoked, anonymous })
        {
            Assert.True(await store.CreateAsync(record));
        }
        Assert.True(await store.RevokeAsync(revoked.Id, Now()));
        Clock.Advance(TimeSpan.FromMinutes(2));

        async Task<string[]> Ids(SessionQuery query) =>
            [.. (await ListAllAsync(admin, query, query.PageSize)).Select(r => r.Id).Order(StringComparer.Ordinal)];
        string[] Sorted(params SessionRecord[] records) => [.. records.Select(r => r.Id).Order(StringComparer.Ordinal)];

        Assert.Equal(Sorted(live, anonymous), await Ids(new SessionQuery { State = SessionState.Live }));
        Assert.Equal(Sorted(shortLived), await Ids(new SessionQuery { State = SessionState.Expired }));
        Assert.Equal(Sorted(revoked), await Ids(new SessionQuery { State = SessionState.Revoked, PageSize = 1 }));
        Assert.Equal(Sorted(shortLived, live), await Ids(new SessionQuery { Subject = "alice", PageSize = 1 }));
        Assert.Equal(Sorted(live), await Ids(new SessionQuery { Subject = "alice", State = SessionState.Live }));
        Assert.Empty(await Ids(new SessionQuery { Subject = "nobody" }));
        var revokedRecord = (await ListAllAsync(admin, new SessionQuery { State = SessionState.Revoked }, 100)).Single();
        Assert.NotNull(revokedRecord.RevokedAt);
    }

    /// <summary>Statistics count live, expired and revoked sessions apart, and an empty store counts zero.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task StatisticsCountEachStateApart()
    {
        var store = CreateStore();
        if (Capability<ISessionStoreAdministration>(store, SupportsAdministration, nameof(SupportsAdministration)) is not { } admin)
        {
            return;
        }
        var empty = await admin.GetStatisticsAsync();
        Assert.Equal(0, empty.Total);
        Assert.False(string.IsNullOrWhiteSpace(empty.SizeDescription));

        for (var i = 0; i < 3; i++)
        {
            Assert.True(await store.CreateAsync(NewRecord()));
        }
        for (var i = 0; i < 2; i++)
        {
            Assert.True(await store.CreateAsync(NewRecord(idle: TimeSpan.FromMinutes(1))));
        }
        var toRevoke = NewRecord();
        Assert.True(await store.CreateAsync(toRevoke));
        Assert.True(await store.RevokeAsync(toRevoke.Id, Now()));
        Clock.Advance(TimeSpan.FromMinutes(1)); // exactly at the short sessions' deadline: expired

        var stats = await admin.GetStatisticsAsync();

        Assert.Equal((3L, 2L, 1L, 6L), (stats.Live, stats.Expired, stats.Revoked, stats.Total));
        Assert.True(stats.SizeBytes is null or >= 0);
    }

    /// <summary>Clearing deletes every session in every state (and their credentials), and the store stays usable.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ClearingDeletesEverySessionAndTheStoreStaysUsable()
    {
        var store = CreateStore();
        if (Capability<ISessionStoreAdministration>(store, SupportsAdministration, nameof(SupportsAdministration)) is not { } admin)
        {
            return;
        }
        var records = Enumerable.Range(0, 7).Select(i => NewRecord(subject: "carol", data: Data(("k", "1")), idle: TimeSpan.FromMinutes(i + 1))).ToList();
        foreach (var record in records)
        {
            Assert.True(await store.CreateAsync(record));
        }
        Assert.True(await store.RevokeAsync(records[0].Id, Now()));
        Clock.Advance(TimeSpan.FromMinutes(3));

        Assert.Equal(7, await admin.ClearAsync());

        Assert.Equal(0, (await admin.GetStatisticsAsync()).Total);
        Assert.Empty((await admin.ListSessionsAsync(new SessionQuery())).Sessions);
        Assert.Null(await store.LoadByCredentialAsync(records[^1]));
        Assert.Equal(0, await admin.ClearAsync());
        // A cleared id and credential can be used again.
        Assert.True(await store.CreateAsync(NewRecord(id: records[^1].Id, hash: records[^1].CredentialHash)));
        Assert.Equal(1, (await admin.GetStatisticsAsync()).Live);
    }

    /// <summary>A page size out of range is refused.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ListingRefusesAPageSizeOutOfRange()
    {
        var store = CreateStore();
        if (Capability<ISessionStoreAdministration>(store, SupportsAdministration, nameof(SupportsAdministration)) is not { } admin)
        {
            return;
        }
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => admin.ListSessionsAsync(new SessionQuery { PageSize = 0 }).AsTask());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => admin.ListSessionsAsync(new SessionQuery { PageSize = SessionQuery.MaxPageSize + 1 }).AsTask());
    }

    private static async Task<List<SessionRecord>> ListAllAsync(ISessionStoreAdministration admin, SessionQuery query, int maxPageSize)
    {
        var all = new List<SessionRecord>();
        string? cursor = null;
        for (var pages = 0; ; pages++)
        {
            Assert.True(pages < 1000, "the walk never ended");
            var page = await admin.ListSessionsAsync(query with { Cursor = cursor });
            Assert.True(page.Sessions.Count <= maxPageSize, $"a page held {page.Sessions.Count} sessions, more than {maxPageSize}");
            all.AddRange(page.Sessions);
            cursor = page.NextCursor;
            if (cursor is null)
            {
                break;
            }
        }
        Assert.Equal(all.Count, all.Select(r => r.Id).Distinct(StringComparer.Ordinal).Count());
        return all;
    }
}
