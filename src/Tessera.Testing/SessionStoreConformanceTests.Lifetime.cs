using Xunit;

namespace Tessera.Testing;

public abstract partial class SessionStoreConformanceTests<TKit>
    where TKit : StoreKit, new()
{
    // ---------------------------------------------------------------------------------------------------------------
    // Revoke and delete
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>A revoked session is not found by id or credential, and revoking it again returns false.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ARevokedSessionIsNotFoundAndCannotBeRevokedTwice()
    {
        var store = CreateStore();
        var record = NewRecord(subject: "alice");
        var bystander = NewRecord(subject: "alice");
        Assert.True(await store.CreateAsync(record));
        Assert.True(await store.CreateAsync(bystander));

        Assert.True(await store.RevokeAsync(record.Id, Now()));

        Assert.Null(await store.LoadAsync(record.Id));
        Assert.Null(await store.LoadByCredentialAsync(record));
        Assert.False(await store.RevokeAsync(record.Id, Now()));
        Assert.False(await store.RevokeAsync(NewId(), Now()));
        Assert.NotNull(await store.LoadByCredentialAsync(bystander));
    }

    /// <summary>A revoked session's record stays until it is deleted: delete still finds it.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ARevokedSessionIsStillARecordUntilDeleted()
    {
        var store = CreateStore();
        var record = NewRecord();
        Assert.True(await store.CreateAsync(record));
        Assert.True(await store.RevokeAsync(record.Id, Now()));

        Assert.True(await store.DeleteAsync(record.Id), "a revoked record must remain until cleanup or delete removes it");
        Assert.False(await store.DeleteAsync(record.Id));
    }

    /// <summary>Cleanup leaves a revoked session until its expiry has passed, then deletes it.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ARevokedSessionIsCleanedUpOnlyAfterItExpires()
    {
        var store = CreateStore();
        if (Capability<ISessionStoreCleanup>(store, SupportsCleanup, nameof(SupportsCleanup)) is not { } cleanup)
        {
            return;
        }
        var record = NewRecord(idle: TimeSpan.FromMinutes(10));
        Assert.True(await store.CreateAsync(record));
        Assert.True(await store.RevokeAsync(record.Id, Now()));

        Assert.Equal(0, await cleanup.DeleteExpiredAsync(100));

        Clock.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(1, await cleanup.DeleteExpiredAsync(100)); // so the revoked record was still there
        Assert.False(await store.DeleteAsync(record.Id));
    }

    /// <summary>Deleting removes the session; deleting it again, or a session that never existed, returns false.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task DeletingRemovesTheSessionAndDeletingAgainIsANoOp()
    {
        var store = CreateStore();
        var record = NewRecord(data: Data(("a", "1")));
        var bystander = NewRecord();
        Assert.True(await store.CreateAsync(record));
        Assert.True(await store.CreateAsync(bystander));

        Assert.True(await store.DeleteAsync(record.Id));

        Assert.Null(await store.LoadAsync(record.Id));
        Assert.Null(await store.LoadByCredentialAsync(record));
        Assert.False(await store.DeleteAsync(record.Id));
        Assert.False(await store.DeleteAsync(NewId()));
        Assert.NotNull(await store.LoadAsync(bystander.Id));
    }

    /// <summary>After a delete, the id and the credential hash are free again.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ADeletedSessionsIdAndHashCanBeUsedAgain()
    {
        var store = CreateStore();
        var record = NewRecord(data: Data(("old", "1")));
        Assert.True(await store.CreateAsync(record));
        Assert.True(await store.DeleteAsync(record.Id));

        var again = NewRecord(id: record.Id, hash: (byte[])record.CredentialHash.Clone(), data: Data(("new", "2")));
        Assert.True(await store.CreateAsync(again));

        AssertSameRecord(again, await store.LoadByCredentialAsync(record));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Expiry
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>A session is live until just before its idle deadline and gone at it.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ASessionExpiresAtItsIdleDeadline()
    {
        var store = CreateStore();
        var record = NewRecord(idle: TimeSpan.FromMinutes(30));
        Assert.True(await store.CreateAsync(record));

        Clock.Advance(TimeSpan.FromMinutes(30) - TimeSpan.FromMilliseconds(1));
        Assert.NotNull(await store.LoadAsync(record.Id));
        Assert.NotNull(await store.LoadByCredentialAsync(record));

        Clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Null(await store.LoadAsync(record.Id));
        Assert.Null(await store.LoadByCredentialAsync(record));
    }

    /// <summary>The absolute deadline ends a session even when its idle deadline is later.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TheAbsoluteDeadlineCapsTheIdleDeadline()
    {
        var store = CreateStore();
        var record = NewRecord(idle: TimeSpan.FromMinutes(55), absolute: TimeSpan.FromHours(1));
        Assert.True(await store.CreateAsync(record));
        Clock.Advance(TimeSpan.FromMinutes(50));
        // The store enforces min(idle, absolute) itself (SessionRecord.ExpiresAt), whatever idle deadline it is given.
        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { LastSeenAt = Now(), IdleExpiresAt = Now() + TimeSpan.FromMinutes(30) }));

        Clock.Advance(TimeSpan.FromMinutes(10) - TimeSpan.FromMilliseconds(1));
        Assert.NotNull(await store.LoadAsync(record.Id));

        Clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Null(await store.LoadAsync(record.Id));
        Assert.Null(await store.LoadByCredentialAsync(record));
        Assert.False(await store.TouchAsync(record.Id, Now(), Now() + TimeSpan.FromMinutes(30)));
    }

    /// <summary>An expired session stays expired: the clock moving on does not bring it back.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AnExpiredSessionDoesNotComeBack()
    {
        var store = CreateStore();
        var record = NewRecord(idle: TimeSpan.FromMinutes(1));
        Assert.True(await store.CreateAsync(record));

        Clock.Advance(TimeSpan.FromHours(9));

        Assert.Null(await store.LoadAsync(record.Id));
        Assert.Null(await store.LoadByCredentialAsync(record));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Cleanup
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>Cleanup deletes expired sessions in batches of at most the batch size and leaves live ones.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task CleanupDeletesExpiredSessionsInBatchesAndKeepsLiveOnes()
    {
        var store = CreateStore();
        if (Capability<ISessionStoreCleanup>(store, SupportsCleanup, nameof(SupportsCleanup)) is not { } cleanup)
        {
            return;
        }
        var expired = Enumerable.Range(0, 25).Select(_ => NewRecord(idle: TimeSpan.FromMinutes(1))).ToList();
        var live = Enumerable.Range(0, 3).Select(_ => NewRecord(idle: TimeSpan.FromHours(1))).ToList();
        foreach (var record in expired.Concat(live))
        {
            Assert.True(await store.CreateAsync(record));
        }
        Clock.Advance(TimeSpan.FromMinutes(2));

        Assert.Equal(10, await cleanup.DeleteExpiredAsync(10));
        Assert.Equal(10, await cleanup.DeleteExpiredAsync(10));
        Assert.Equal(5, await cleanup.DeleteExpiredAsync(10));
        Assert.Equal(0, await cleanup.DeleteExpiredAsync(10));

        foreach (var record in expired)
        {
            Assert.False(await store.DeleteAsync(record.Id), "an expired record survived cleanup");
        }
        foreach (var record in live)
        {
            Assert.NotNull(await store.LoadByCredentialAsync(record));
        }
    }

    /// <summary>Cleanup deletes a session whose absolute deadline has passed, and one exactly at its deadline.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task CleanupDeletesSessionsPastTheirAbsoluteDeadlineAndAtTheirDeadline()
    {
        var store = CreateStore();
        if (Capability<ISessionStoreCleanup>(store, SupportsCleanup, nameof(SupportsCleanup)) is not { } cleanup)
        {
            return;
        }
        var absolute = NewRecord(idle: TimeSpan.FromMinutes(30), absolute: TimeSpan.FromMinutes(40));
        var exact = NewRecord(idle: TimeSpan.FromMinutes(60), absolute: TimeSpan.FromHours(2));
        Assert.True(await store.CreateAsync(absolute));
        Assert.True(await store.CreateAsync(exact));
        Clock.Advance(TimeSpan.FromMinutes(20));
        Assert.True(await store.ApplyAsync(absolute.Id, new SessionPatch { LastSeenAt = Now(), IdleExpiresAt = Now() + TimeSpan.FromMinutes(30) }));

        Clock.Advance(TimeSpan.FromMinutes(40)); // 60 minutes after creation: past "absolute", exactly at "exact"'s idle deadline

        Assert.Equal(2, await cleanup.DeleteExpiredAsync(10));
        Assert.False(await store.DeleteAsync(absolute.Id));
        Assert.False(await store.DeleteAsync(exact.Id));
    }

    /// <summary>Cleanup of a store with nothing expired deletes nothing.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task CleanupWithNothingExpiredDeletesNothing()
    {
        var store = CreateStore();
        if (Capability<ISessionStoreCleanup>(store, SupportsCleanup, nameof(SupportsCleanup)) is not { } cleanup)
        {
            return;
        }
        Assert.Equal(0, await cleanup.DeleteExpiredAsync(10));
        var record = NewRecord();
        Assert.True(await store.CreateAsync(record));

        Assert.Equal(0, await cleanup.DeleteExpiredAsync(10));

        Assert.NotNull(await store.LoadAsync(record.Id));
    }

    /// <summary>
    /// Deleting revoked sessions takes those revoked at or before the cut-off, expired or not, and keeps those revoked
    /// later and the live ones.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task DeletingRevokedSessionsTakesOnlyThoseRevokedAtOrBeforeTheCutOff()
    {
        var store = CreateStore();
        if (Capability<ISessionStoreCleanup>(store, SupportsCleanup, nameof(SupportsCleanup)) is not { } cleanup)
        {
            return;
        }
        var early = NewRecord(idle: TimeSpan.FromMinutes(5));
        var atCutOff = NewRecord(idle: TimeSpan.FromHours(1));
        var late = NewRecord(idle: TimeSpan.FromHours(1));
        var live = NewRecord(idle: TimeSpan.FromHours(1));
        foreach (var record in new[] { early, atCutOff, late, live })
        {
            Assert.True(await store.CreateAsync(record));
        }
        Assert.True(await store.RevokeAsync(early.Id, Now()));
        Clock.Advance(TimeSpan.FromMinutes(10)); // "early" is now expired as well as revoked
        var cutOff = Now();
        Assert.True(await store.RevokeAsync(atCutOff.Id, cutOff));
        Clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(await store.RevokeAsync(late.Id, Now()));

        Assert.Equal(2, await cleanup.DeleteRevokedAsync(cutOff, 100));

        Assert.False(await store.DeleteAsync(early.Id), "a session revoked before the cut-off survived");
        Assert.False(await store.DeleteAsync(atCutOff.Id), "a session revoked exactly at the cut-off survived");
        Assert.Equal(0, await cleanup.DeleteRevokedAsync(cutOff, 100));
        Assert.NotNull(await store.LoadAsync(live.Id));
        Assert.True(await store.DeleteAsync(late.Id), "a session revoked after the cut-off was deleted");
    }

    /// <summary>Deleting revoked sessions deletes at most the batch size per call, and reports fewer when none are left.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task DeletingRevokedSessionsRespectsTheBatchSize()
    {
        var store = CreateStore();
        if (Capability<ISessionStoreCleanup>(store, SupportsCleanup, nameof(SupportsCleanup)) is not { } cleanup)
        {
            return;
        }
        var revoked = Enumerable.Range(0, 7).Select(_ => NewRecord()).ToList();
        var live = NewRecord();
        foreach (var record in revoked.Append(live))
        {
            Assert.True(await store.CreateAsync(record));
        }
        foreach (var record in revoked)
        {
            Assert.True(await store.RevokeAsync(record.Id, Now()));
        }

        Assert.Equal(3, await cleanup.DeleteRevokedAsync(Now(), 3));
        Assert.Equal(3, await cleanup.DeleteRevokedAsync(Now(), 3));
        Assert.Equal(1, await cleanup.DeleteRevokedAsync(Now(), 3));
        Assert.Equal(0, await cleanup.DeleteRevokedAsync(Now(), 3));

        foreach (var record in revoked)
        {
            Assert.False(await store.DeleteAsync(record.Id), "a revoked record survived");
        }
        Assert.NotNull(await store.LoadAsync(live.Id));
    }

    /// <summary>A revoked session deleted by cleanup takes its data with it: a new session with its id starts empty.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task DeletingARevokedSessionTakesItsDataWithIt()
    {
        var store = CreateStore();
        if (Capability<ISessionStoreCleanup>(store, SupportsCleanup, nameof(SupportsCleanup)) is not { } cleanup)
        {
            return;
        }
        var record = NewRecord(data: Data(("cart", "[\"apple\"]"), ("name", "\"Zoë\"")));
        Assert.True(await store.CreateAsync(record));
        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { Set = Data(("later", "1")) }));
        Assert.True(await store.RevokeAsync(record.Id, Now()));

        Assert.Equal(1, await cleanup.DeleteRevokedAsync(Now(), 10));

        var again = NewRecord(id: record.Id, hash: (byte[])record.CredentialHash.Clone());
        Assert.True(await store.CreateAsync(again));
        var loaded = await store.LoadAsync(record.Id);
        Assert.NotNull(loaded);
        Assert.Empty(loaded.Data);
    }
}
