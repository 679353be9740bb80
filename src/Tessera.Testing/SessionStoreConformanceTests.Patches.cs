using Xunit;

namespace Tessera.Testing;

public abstract partial class SessionStoreConformanceTests<TKit>
    where TKit : StoreKit, new()
{
    // ---------------------------------------------------------------------------------------------------------------
    // Patches
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>A patch sets new keys and overwrites existing ones, leaving the rest alone.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task APatchSetsKeysAndLeavesOtherKeysAlone()
    {
        var store = CreateStore();
        var record = NewRecord(data: Data(("keep", "\"k\""), ("change", "1")));
        Assert.True(await store.CreateAsync(record));

        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { Set = Data(("change", "2"), ("new", "[1]")) }));

        AssertSameData(Data(("keep", "\"k\""), ("change", "2"), ("new", "[1]")), (await store.LoadAsync(record.Id))!.Data);
    }

    /// <summary>A patch removes keys; removing a key that is not there is a no-op.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task APatchRemovesKeysAndIgnoresMissingOnes()
    {
        var store = CreateStore();
        var record = NewRecord(data: Data(("a", "1"), ("b", "2"), ("c", "3")));
        Assert.True(await store.CreateAsync(record));

        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { Removed = ["a", "not-there"], Set = Data(("d", "4")) }));

        AssertSameData(Data(("b", "2"), ("c", "3"), ("d", "4")), (await store.LoadAsync(record.Id))!.Data);
    }

    /// <summary>A patch that clears the data and sets keys leaves exactly the keys it sets.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task APatchThatClearsThenSetsLeavesOnlyTheNewKeys()
    {
        var store = CreateStore();
        var record = NewRecord(data: Data(("a", "1"), ("b", "2")));
        Assert.True(await store.CreateAsync(record));

        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { ClearData = true, Set = Data(("b", "20"), ("c", "30")) }));

        AssertSameData(Data(("b", "20"), ("c", "30")), (await store.LoadAsync(record.Id))!.Data);
    }

    /// <summary>A patch that only clears leaves no data at all.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task APatchThatOnlyClearsLeavesNoData()
    {
        var store = CreateStore();
        var record = NewRecord(data: Data(("a", "1"), ("b", "2")));
        Assert.True(await store.CreateAsync(record));

        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { ClearData = true }));

        Assert.Empty((await store.LoadAsync(record.Id))!.Data);
    }

    /// <summary>A patch changes the subject, keeps it when not asked to change it, and signs out with a null subject.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task APatchChangesTheSubjectOnlyWhenAskedAndCanSignOut()
    {
        var store = CreateStore();
        var record = NewRecord();
        Assert.True(await store.CreateAsync(record));

        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { SubjectChanged = true, Subject = "alice" }));
        Assert.Equal("alice", (await store.LoadAsync(record.Id))!.Subject);

        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { Subject = "ignored", Set = Data(("x", "1")) }));
        Assert.Equal("alice", (await store.LoadAsync(record.Id))!.Subject);

        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { SubjectChanged = true, Subject = "bob" }));
        Assert.Equal("bob", (await store.LoadByCredentialAsync(record))!.Subject);

        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { SubjectChanged = true, Subject = null }));
        var signedOut = await store.LoadAsync(record.Id);
        Assert.NotNull(signedOut);
        Assert.Null(signedOut.Subject);
        JsonAssert.Equal("1", signedOut.Data["x"]);
    }

    /// <summary>A patch with a new credential hash moves the session to it; the old hash finds nothing.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task APatchWithANewCredentialHashRetiresTheOldOne()
    {
        var store = CreateStore();
        var record = NewRecord(subject: "alice", data: Data(("cart", "[\"apple\"]")));
        Assert.True(await store.CreateAsync(record));
        var newHash = NewCredentialHash();

        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { NewCredentialHash = newHash }));

        Assert.Null(await store.LoadByCredentialAsync(record));
        var loaded = await store.LoadByCredentialAsync(newHash, record.Id);
        Assert.NotNull(loaded);
        AssertSameRecord(record with { CredentialHash = newHash }, loaded);
        Assert.Equal(newHash, (await store.LoadAsync(record.Id))!.CredentialHash);
    }

    /// <summary>After a credential rotation the old hash is free: another session may be created with it.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ARetiredCredentialHashNoLongerBlocksCreation()
    {
        var store = CreateStore();
        var record = NewRecord();
        Assert.True(await store.CreateAsync(record));
        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { NewCredentialHash = NewCredentialHash() }));

        var other = NewRecord(hash: (byte[])record.CredentialHash.Clone());
        Assert.True(await store.CreateAsync(other));

        Assert.Equal(other.Id, (await store.LoadByCredentialAsync(other))!.Id);
    }

    /// <summary>A patch updates last-seen and the idle deadline when given, and keeps them when not.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task APatchUpdatesActivityTimesOnlyWhenGiven()
    {
        var store = CreateStore();
        var record = NewRecord();
        Assert.True(await store.CreateAsync(record));
        Clock.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromMilliseconds(321));
        var now = Now();

        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { LastSeenAt = now, IdleExpiresAt = now + TimeSpan.FromMinutes(30) }));
        var touched = await store.LoadAsync(record.Id);
        Assert.NotNull(touched);
        Assert.Equal(now, touched.LastSeenAt);
        Assert.Equal(now + TimeSpan.FromMinutes(30), touched.IdleExpiresAt);
        Assert.Equal(record.CreatedAt, touched.CreatedAt);
        Assert.Equal(record.AbsoluteExpiresAt, touched.AbsoluteExpiresAt);

        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { Set = Data(("a", "1")) }));
        var kept = await store.LoadAsync(record.Id);
        Assert.Equal(now, kept!.LastSeenAt);
        Assert.Equal(now + TimeSpan.FromMinutes(30), kept.IdleExpiresAt);
    }

    /// <summary>A patch never changes what it does not name: id, creation, absolute deadline, metadata.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task APatchLeavesFieldsItDoesNotNameUnchanged()
    {
        var store = CreateStore();
        var record = NewRecord(subject: "s", data: Data(("a", "1")), metadata: new SessionMetadata("ua", "192.0.2.1", "label"));
        Assert.True(await store.CreateAsync(record));

        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch()));

        AssertSameRecord(record, await store.LoadAsync(record.Id));
    }

    /// <summary>Applying a patch to a session that does not exist returns false and creates nothing.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ApplyingToAMissingSessionReturnsFalseAndCreatesNothing()
    {
        var store = CreateStore();
        var id = NewId();
        var hash = NewCredentialHash();

        Assert.False(await store.ApplyAsync(id, FullPatch(hash)));

        Assert.Null(await store.LoadAsync(id));
        Assert.Null(await store.LoadByCredentialAsync(hash, id));
        Assert.True(await store.CreateAsync(NewRecord(id: id, hash: hash)), "the failed patch must not have claimed the id or the hash");
    }

    /// <summary>Applying a patch to a revoked session returns false and writes nothing.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ApplyingToARevokedSessionReturnsFalseAndWritesNothing()
    {
        var store = CreateStore();
        var record = NewRecord(subject: "alice");
        Assert.True(await store.CreateAsync(record));
        Assert.True(await store.RevokeAsync(record.Id, Now()));
        var hash = NewCredentialHash();

        Assert.False(await store.ApplyAsync(record.Id, FullPatch(hash)));

        Assert.Null(await store.LoadAsync(record.Id));
        Assert.Null(await store.LoadByCredentialAsync(hash, record.Id));
        Assert.Null(await store.LoadByCredentialAsync(record));
        if (SupportsSubjectIndex && store is ISubjectSessionIndex index)
        {
            Assert.Empty(await index.ListBySubjectAsync("alice"));
            Assert.Empty(await index.ListBySubjectAsync("patched"));
        }
    }

    /// <summary>Applying a patch to an expired session returns false and does not bring it back.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ApplyingToAnExpiredSessionReturnsFalseAndDoesNotReviveIt()
    {
        var store = CreateStore();
        var record = NewRecord(idle: TimeSpan.FromMinutes(10));
        Assert.True(await store.CreateAsync(record));
        Clock.Advance(TimeSpan.FromMinutes(11));
        var hash = NewCredentialHash();

        Assert.False(await store.ApplyAsync(record.Id, FullPatch(hash)));

        Assert.Null(await store.LoadAsync(record.Id));
        Assert.Null(await store.LoadByCredentialAsync(hash, record.Id));
        Assert.Null(await store.LoadByCredentialAsync(record));
    }

    /// <summary>
    /// A patch of one key and nothing else (the shape a store may write in one statement) to a missing, a revoked or an
    /// expired session returns false, writes nothing and revives nothing, as a full patch does.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AOneKeyPatchToADeadSessionReturnsFalseAndWritesNothing()
    {
        var store = CreateStore();
        var oneKey = new SessionPatch { Set = Data(("late", "1")) };
        var missing = NewRecord(data: Data(("own", "true")));
        var revoked = NewRecord(data: Data(("own", "true")));
        var expired = NewRecord(data: Data(("own", "true")), idle: TimeSpan.FromMinutes(10));
        Assert.True(await store.CreateAsync(revoked));
        Assert.True(await store.RevokeAsync(revoked.Id, Now()));
        Assert.True(await store.CreateAsync(expired));
        Clock.Advance(TimeSpan.FromMinutes(11));

        Assert.False(await store.ApplyAsync(missing.Id, oneKey));
        Assert.False(await store.ApplyAsync(revoked.Id, oneKey));
        Assert.False(await store.ApplyAsync(expired.Id, oneKey));

        Assert.Null(await store.LoadAsync(revoked.Id));
        Assert.Null(await store.LoadByCredentialAsync(revoked));
        Assert.Null(await store.LoadAsync(expired.Id));
        Assert.Null(await store.LoadByCredentialAsync(expired));
        Assert.Null(await store.LoadAsync(missing.Id));
        Assert.True(await store.CreateAsync(missing), "the failed patch must not have claimed the id");
        var created = await store.LoadAsync(missing.Id);
        Assert.NotNull(created);
        AssertSameData(Data(("own", "true")), created.Data);
    }

    /// <summary>A one-key patch to a live session sets that key and leaves the others and the session's row as they were.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AOneKeyPatchSetsItsKeyAndLeavesTheRestAlone()
    {
        var store = CreateStore();
        var record = NewRecord(subject: "alice", data: Data(("kept", "\"yes\""), ("hits", "1")));
        Assert.True(await store.CreateAsync(record));

        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { Set = Data(("hits", "2")) }));
        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { Set = Data(("fresh", "[1,2]")) }));

        var loaded = await store.LoadByCredentialAsync(record);
        Assert.NotNull(loaded);
        AssertSameData(Data(("kept", "\"yes\""), ("hits", "2"), ("fresh", "[1,2]")), loaded.Data);
        Assert.Equal("alice", loaded.Subject);
        Assert.Equal(record.IdleExpiresAt, loaded.IdleExpiresAt);
        Assert.Equal(record.LastSeenAt, loaded.LastSeenAt);
    }

    /// <summary>A hundred concurrent patches, each setting its own key on one session, all survive.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AHundredConcurrentPatchesSettingDifferentKeysAllSurvive()
    {
        var store = CreateStore();
        var record = NewRecord(data: Data(("original", "true")));
        Assert.True(await store.CreateAsync(record));

        var results = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => Task.Run(async () =>
            await store.ApplyAsync(record.Id, new SessionPatch { Set = Data(($"key{i}", i.ToString(System.Globalization.CultureInfo.InvariantCulture))) }))));

        Assert.All(results, Assert.True);
        var loaded = await store.LoadAsync(record.Id);
        Assert.NotNull(loaded);
        Assert.Equal(101, loaded.Data.Count);
        JsonAssert.Equal("true", loaded.Data["original"]);
        for (var i = 0; i < 100; i++)
        {
            JsonAssert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), loaded.Data[$"key{i}"]);
        }
    }

    /// <summary>A patch removing one key and a concurrent patch setting another both take effect.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ConcurrentRemoveAndSetOfDifferentKeysBothHold()
    {
        var store = CreateStore();
        var records = Enumerable.Range(0, 20).Select(_ => NewRecord(data: Data(("a", "1"), ("other", "2")))).ToList();
        foreach (var record in records)
        {
            Assert.True(await store.CreateAsync(record));
        }

        var results = await Task.WhenAll(records.SelectMany(r => new[]
        {
            Task.Run(async () => await store.ApplyAsync(r.Id, new SessionPatch { Removed = ["a"] })),
            Task.Run(async () => await store.ApplyAsync(r.Id, new SessionPatch { Set = Data(("b", "3")) })),
        }));

        Assert.All(results, Assert.True);
        foreach (var record in records)
        {
            AssertSameData(Data(("other", "2"), ("b", "3")), (await store.LoadAsync(record.Id))!.Data);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Touch
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>Touching updates last-seen and the idle deadline and nothing else.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TouchingUpdatesOnlyLastSeenAndTheIdleDeadline()
    {
        var store = CreateStore();
        var record = NewRecord(subject: "alice", data: Data(("a", "1")), metadata: new SessionMetadata("ua", null, "l"));
        Assert.True(await store.CreateAsync(record));
        Clock.Advance(TimeSpan.FromMinutes(7) + TimeSpan.FromMilliseconds(7));
        var now = Now();

        Assert.True(await store.TouchAsync(record.Id, now, now + TimeSpan.FromMinutes(30)));

        AssertSameRecord(
            record with { LastSeenAt = now, IdleExpiresAt = now + TimeSpan.FromMinutes(30) },
            await store.LoadByCredentialAsync(record));
    }

    /// <summary>A touched session lives past its old idle deadline, up to the new one.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TouchingExtendsTheSessionsLife()
    {
        var store = CreateStore();
        var record = NewRecord(idle: TimeSpan.FromMinutes(30));
        Assert.True(await store.CreateAsync(record));
        Clock.Advance(TimeSpan.FromMinutes(20));
        Assert.True(await store.TouchAsync(record.Id, Now(), Now() + TimeSpan.FromMinutes(30)));

        Clock.Advance(TimeSpan.FromMinutes(29));
        Assert.NotNull(await store.LoadAsync(record.Id));

        Clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Null(await store.LoadAsync(record.Id));
    }

    /// <summary>Touching a missing, revoked or expired session returns false and does not revive it.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TouchingAMissingRevokedOrExpiredSessionReturnsFalse()
    {
        var store = CreateStore();
        var revoked = NewRecord();
        var expired = NewRecord(idle: TimeSpan.FromMinutes(1));
        Assert.True(await store.CreateAsync(revoked));
        Assert.True(await store.CreateAsync(expired));
        Assert.True(await store.RevokeAsync(revoked.Id, Now()));
        Clock.Advance(TimeSpan.FromMinutes(2));
        var later = Now() + TimeSpan.FromMinutes(30);

        Assert.False(await store.TouchAsync(NewId(), Now(), later));
        Assert.False(await store.TouchAsync(revoked.Id, Now(), later));
        Assert.False(await store.TouchAsync(expired.Id, Now(), later));

        Assert.Null(await store.LoadAsync(revoked.Id));
        Assert.Null(await store.LoadAsync(expired.Id));
    }
}
