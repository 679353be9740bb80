using Microsoft.Extensions.Time.Testing;
using System.Security.Cryptography;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// The store conformance suite: inherit it in a test class with your store's <see cref="StoreKit"/>, and every store
/// behaviour Tessera relies on is tested against your store.
/// </summary>
/// <remarks>
/// Optional capabilities (<see cref="ISessionStoreCleanup"/>, <see cref="ISessionStoreCounter"/>,
/// <see cref="ISubjectSessionIndex"/>, a size bound) are tested too. A store that lacks one fails those tests with a
/// message saying so, unless the derived class declares the gap by overriding the matching <c>Supports...</c>
/// property to <see langword="false"/>; then those tests pass without running. A gap is always declared, never silent.
/// </remarks>
public abstract partial class SessionStoreConformanceTests<TKit> : IAsyncDisposable
    where TKit : StoreKit, new()
{
    /// <summary>The clock every store made by <see cref="CreateStore"/> must use; tests move it.</summary>
    protected FakeTimeProvider Clock { get; } = new(TestClock.Start);

    /// <summary>The kit that makes this test's stores and says what they can do; disposed (with every store it made) when the test ends.</summary>
    protected TKit Kit { get; } = new();

    /// <summary>Whether the store implements <see cref="ISessionStoreCleanup"/>: <see cref="StoreKit.SupportsCleanup"/>.</summary>
    protected bool SupportsCleanup => Kit.SupportsCleanup;

    /// <summary>Whether the store implements <see cref="ISessionStoreCounter"/>: <see cref="StoreKit.SupportsCounting"/>.</summary>
    protected bool SupportsCounting => Kit.SupportsCounting;

    /// <summary>Whether the store implements <see cref="ISubjectSessionIndex"/>: <see cref="StoreKit.SupportsSubjectIndex"/>.</summary>
    protected bool SupportsSubjectIndex => Kit.SupportsSubjectIndex;

    /// <summary>Whether the store honours a size bound: <see cref="StoreKit.SupportsCapacityBound"/>.</summary>
    protected bool SupportsCapacityBound => Kit.SupportsCapacityBound;

    /// <summary>
    /// Creates an empty store on <see cref="Clock"/> through <see cref="Kit"/>, isolated from every other store it returned.
    /// </summary>
    /// <param name="maxSessions">The store's size bound; 0 means the store's default (or unbounded).</param>
    /// <param name="policy">What the store does at its bound.</param>
    /// <returns>The store; the kit disposes it when the test ends.</returns>
    protected ISessionStore CreateStore(int maxSessions = 0, StoreCapacityPolicy policy = StoreCapacityPolicy.EvictLeastRecentlyUsed) =>
        Kit.CreateStore(Clock, new StoreShape { MaxSessions = maxSessions, CapacityPolicy = policy });

    /// <summary>Disposes the kit, and with it every store the test made.</summary>
    /// <returns>A task.</returns>
    public virtual async ValueTask DisposeAsync()
    {
        await Kit.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Create and load
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>A created session loads by id with every field exactly as given.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ACreatedSessionLoadsByIdWithEveryFieldIntact()
    {
        var store = CreateStore();
        Clock.Advance(TimeSpan.FromMilliseconds(123)); // a non-zero millisecond part must survive
        var record = NewRecord(subject: "user-42", data: SampleData(), metadata: new SessionMetadata("Mozilla/5.0 (X11; Linux) \"quoted\" ü", "2001:db8::1", "Laptop 💻"));

        Assert.True(await store.CreateAsync(record));

        AssertSameRecord(record, await store.LoadAsync(record.Id));
    }

    /// <summary>A created session loads by its credential hash with every field exactly as given.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ACreatedSessionLoadsByCredentialWithEveryFieldIntact()
    {
        var store = CreateStore();
        Clock.Advance(TimeSpan.FromMilliseconds(987));
        var record = NewRecord(subject: "user-42", data: SampleData(), metadata: new SessionMetadata("agent", "203.0.113.9", null));

        Assert.True(await store.CreateAsync(record));

        AssertSameRecord(record, await store.LoadByCredentialAsync(record.CredentialHash));
    }

    /// <summary>An anonymous session (no subject, no data, empty metadata) round-trips with its nulls and empties.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AnAnonymousEmptySessionRoundTripsWithNullSubjectAndEmptyData()
    {
        var store = CreateStore();
        var record = NewRecord();

        Assert.True(await store.CreateAsync(record));

        var loaded = await store.LoadAsync(record.Id);
        AssertSameRecord(record, loaded);
        Assert.Null(loaded!.Subject);
        Assert.Empty(loaded.Data);
        Assert.Equal(SessionMetadata.Empty, loaded.Metadata);
    }

    /// <summary>Loading by a credential hash that is a slice of a larger buffer uses only the slice.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task LoadingByCredentialUsesOnlyTheGivenSliceOfMemory()
    {
        var store = CreateStore();
        var record = NewRecord();
        Assert.True(await store.CreateAsync(record));
        var buffer = new byte[record.CredentialHash.Length + 8];
        RandomNumberGenerator.Fill(buffer);
        record.CredentialHash.CopyTo(buffer, 4);

        var loaded = await store.LoadByCredentialAsync(buffer.AsMemory(4, record.CredentialHash.Length));

        Assert.NotNull(loaded);
        Assert.Equal(record.Id, loaded.Id);
    }

    /// <summary>Session data survives unusual keys and values: unicode, quotes, nested JSON, dots, dollars, a long value.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task DataWithUnusualKeysAndValuesRoundTripsExactly()
    {
        var store = CreateStore();
        var data = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["a.b.c"] = "1",
            ["$where"] = "\"$ne\"",
            ["$"] = "{\"$gt\":\"\"}",
            ["key \"with\" quotes"] = "\"value \\\"with\\\" quotes\"",
            ["key'single'"] = "\"it's\"",
            ["ключ-日本語-🔑"] = "\"значение 日本 🎉 é\"",
            ["escaped"] = "\"\\u00E9\\u65E5\\uD83C\\uDF89\"",
            ["nested"] = "{\"a\":[1,2.5,{\"b\":null,\"c\":[true,false]}],\"d\":{\"e\":\"f\"}}",
            ["backslash\\key"] = "\"C:\\\\path\\\\file\"",
            ["percent%_like"] = "\"100%_\"",
            ["newline"] = "\"line1\\nline2\\ttab\"",
            ["null"] = "null",
            ["emptyString"] = "\"\"",
            ["space key "] = "[]",
            [new string('k', 256)] = "{}",
            ["big"] = "\"" + new string('x', 64 * 1024) + "\"",
        };
        var record = NewRecord(data: data);

        Assert.True(await store.CreateAsync(record));

        var loaded = await store.LoadAsync(record.Id);
        Assert.NotNull(loaded);
        AssertSameData(data, loaded.Data);
        AssertSameData(data, (await store.LoadByCredentialAsync(record.CredentialHash))!.Data);
    }

    /// <summary>Data set by a patch survives the same unusual keys and values as data given at creation.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task DataWithUnusualKeysRoundTripsThroughAPatch()
    {
        var store = CreateStore();
        var record = NewRecord(data: Data(("plain", "1")));
        Assert.True(await store.CreateAsync(record));
        var set = Data(
            ("a.b", "\"dotted\""),
            ("$set", "{\"$inc\":1}"),
            ("q\"uote", "\"\\\"\""),
            ("ünï©ødé 🙂", "\"ünï©ødé 🙂\""),
            ("nested", "[{\"x\":[{\"y\":\"z\"}]}]"));

        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { Set = set }));

        var expected = new Dictionary<string, string>(set, StringComparer.Ordinal) { ["plain"] = "1" };
        AssertSameData(expected, (await store.LoadAsync(record.Id))!.Data);
    }

    /// <summary>Loading what was never stored gives null, by id and by credential.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task LoadingAMissingSessionGivesNull()
    {
        var store = CreateStore();
        Assert.True(await store.CreateAsync(NewRecord()));

        Assert.Null(await store.LoadAsync(NewId()));
        Assert.Null(await store.LoadByCredentialAsync(NewCredentialHash()));
    }

    /// <summary>A record given to the store and one returned by it are not shared with the store's own copy.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ChangingTheCallersCopyOfAHashDoesNotChangeTheStore()
    {
        var store = CreateStore();
        var record = NewRecord();
        var hash = (byte[])record.CredentialHash.Clone();
        Assert.True(await store.CreateAsync(record));

        record.CredentialHash[0] ^= 0xFF;
        var loaded = await store.LoadByCredentialAsync(hash);
        Assert.NotNull(loaded);
        loaded.CredentialHash[1] ^= 0xFF;

        var again = await store.LoadByCredentialAsync(hash);
        Assert.NotNull(again);
        Assert.Equal(hash, again.CredentialHash);
    }

    /// <summary>Creating a session whose id is taken fails and changes nothing.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task CreatingWithATakenIdFailsAndChangesNothing()
    {
        var store = CreateStore();
        var first = NewRecord(subject: "first", data: Data(("k", "1")));
        Assert.True(await store.CreateAsync(first));
        var second = NewRecord(id: first.Id, subject: "second", data: Data(("k", "2")));

        Assert.False(await store.CreateAsync(second));

        AssertSameRecord(first, await store.LoadAsync(first.Id));
        AssertSameRecord(first, await store.LoadByCredentialAsync(first.CredentialHash));
        Assert.Null(await store.LoadByCredentialAsync(second.CredentialHash));
    }

    /// <summary>Creating a session whose credential hash is taken fails and changes nothing.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task CreatingWithATakenCredentialHashFailsAndChangesNothing()
    {
        var store = CreateStore();
        var first = NewRecord(subject: "first", data: Data(("k", "1")));
        Assert.True(await store.CreateAsync(first));
        var second = NewRecord(hash: (byte[])first.CredentialHash.Clone(), subject: "second", data: Data(("k", "2")));

        Assert.False(await store.CreateAsync(second));

        Assert.Null(await store.LoadAsync(second.Id));
        AssertSameRecord(first, await store.LoadByCredentialAsync(first.CredentialHash));
    }

    /// <summary>Many sessions live side by side, each found by its own id and credential.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ManySessionsAreEachFoundByTheirOwnIdAndCredential()
    {
        var store = CreateStore();
        var records = Enumerable.Range(0, 50).Select(i => NewRecord(data: Data(("n", i.ToString(System.Globalization.CultureInfo.InvariantCulture))))).ToList();
        foreach (var record in records)
        {
            Assert.True(await store.CreateAsync(record));
        }

        foreach (var record in records)
        {
            JsonAssert.Equal(record.Data["n"], (await store.LoadAsync(record.Id))!.Data["n"]);
            Assert.Equal(record.Id, (await store.LoadByCredentialAsync(record.CredentialHash))!.Id);
        }
    }

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
        Assert.Equal("bob", (await store.LoadByCredentialAsync(record.CredentialHash))!.Subject);

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

        Assert.Null(await store.LoadByCredentialAsync(record.CredentialHash));
        var loaded = await store.LoadByCredentialAsync(newHash);
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

        Assert.Equal(other.Id, (await store.LoadByCredentialAsync(record.CredentialHash))!.Id);
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
        Assert.Null(await store.LoadByCredentialAsync(hash));
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
        Assert.Null(await store.LoadByCredentialAsync(hash));
        Assert.Null(await store.LoadByCredentialAsync(record.CredentialHash));
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
        Assert.Null(await store.LoadByCredentialAsync(hash));
        Assert.Null(await store.LoadByCredentialAsync(record.CredentialHash));
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
            await store.LoadByCredentialAsync(record.CredentialHash));
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
        Assert.Null(await store.LoadByCredentialAsync(record.CredentialHash));
        Assert.False(await store.RevokeAsync(record.Id, Now()));
        Assert.False(await store.RevokeAsync(NewId(), Now()));
        Assert.NotNull(await store.LoadByCredentialAsync(bystander.CredentialHash));
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
        Assert.Null(await store.LoadByCredentialAsync(record.CredentialHash));
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

        AssertSameRecord(again, await store.LoadByCredentialAsync(record.CredentialHash));
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
        Assert.NotNull(await store.LoadByCredentialAsync(record.CredentialHash));

        Clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Null(await store.LoadAsync(record.Id));
        Assert.Null(await store.LoadByCredentialAsync(record.CredentialHash));
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
        Assert.Null(await store.LoadByCredentialAsync(record.CredentialHash));
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
        Assert.Null(await store.LoadByCredentialAsync(record.CredentialHash));
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
            Assert.NotNull(await store.LoadByCredentialAsync(record.CredentialHash));
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
        Assert.NotNull(await store.LoadByCredentialAsync(d.CredentialHash));
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
        var expiring = NewRecord(idle: TimeSpan.FromMinutes(1)); // the most recently seen, but about to expire
        foreach (var record in new[] { oldest, older, expiring })
        {
            Assert.True(await store.CreateAsync(record));
        }
        Clock.Advance(TimeSpan.FromMinutes(2));
        var fresh = NewRecord();

        Assert.True(await store.CreateAsync(fresh));

        Assert.NotNull(await store.LoadAsync(oldest.Id));
        Assert.NotNull(await store.LoadAsync(older.Id));
        Assert.NotNull(await store.LoadAsync(fresh.Id));
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
        Assert.Null(await store.LoadByCredentialAsync(refused.CredentialHash));
        foreach (var record in records)
        {
            AssertSameRecord(record, await store.LoadByCredentialAsync(record.CredentialHash));
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
        var expiring = NewRecord(idle: TimeSpan.FromMinutes(1));
        foreach (var record in new[] { live1, live2, expiring })
        {
            Assert.True(await store.CreateAsync(record));
        }
        Clock.Advance(TimeSpan.FromMinutes(2));
        var fresh = NewRecord();

        Assert.True(await store.CreateAsync(fresh));

        Assert.NotNull(await store.LoadAsync(live1.Id));
        Assert.NotNull(await store.LoadAsync(live2.Id));
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

    // ---------------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary><see cref="Clock"/>'s time, cut to the millisecond precision stores keep.</summary>
    /// <returns>The current time.</returns>
    protected DateTimeOffset Now()
    {
        var now = Clock.GetUtcNow();
        return new DateTimeOffset(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
    }

    /// <summary>A new random session id, shaped like the ones Tessera makes.</summary>
    /// <returns>The id.</returns>
    protected static string NewId() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>A new random 32-byte credential hash.</summary>
    /// <returns>The hash.</returns>
    protected static byte[] NewCredentialHash() => RandomNumberGenerator.GetBytes(32);

    /// <summary>Builds a session data dictionary from pairs of key and JSON text.</summary>
    /// <param name="pairs">The keys and JSON texts.</param>
    /// <returns>The data.</returns>
    protected static Dictionary<string, string> Data(params (string Key, string Json)[] pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, json) in pairs)
        {
            data[key] = json;
        }
        return data;
    }

    /// <summary>
    /// Builds a live session record on <see cref="Clock"/>: created and seen now (unless given), idle deadline
    /// <c>lastSeenAt + idle</c> capped by the absolute deadline <c>createdAt + absolute</c>.
    /// </summary>
    /// <param name="id">The id; random when <see langword="null"/>.</param>
    /// <param name="hash">The credential hash; random when <see langword="null"/>.</param>
    /// <param name="subject">The subject; anonymous when <see langword="null"/>.</param>
    /// <param name="data">The data; empty when <see langword="null"/>.</param>
    /// <param name="idle">The idle timeout; 30 minutes when <see langword="null"/>.</param>
    /// <param name="absolute">The absolute lifetime; 8 hours when <see langword="null"/>.</param>
    /// <param name="createdAt">The creation time; now when <see langword="null"/>.</param>
    /// <param name="lastSeenAt">The last-seen time; now when <see langword="null"/>.</param>
    /// <param name="metadata">The metadata; empty when <see langword="null"/>.</param>
    /// <returns>The record.</returns>
    protected SessionRecord NewRecord(
        string? id = null,
        byte[]? hash = null,
        string? subject = null,
        IReadOnlyDictionary<string, string>? data = null,
        TimeSpan? idle = null,
        TimeSpan? absolute = null,
        DateTimeOffset? createdAt = null,
        DateTimeOffset? lastSeenAt = null,
        SessionMetadata? metadata = null)
    {
        var now = Now();
        var created = createdAt ?? now;
        var seen = lastSeenAt ?? now;
        var absoluteAt = created + (absolute ?? TimeSpan.FromHours(8));
        var idleAt = seen + (idle ?? TimeSpan.FromMinutes(30));
        return new SessionRecord
        {
            Id = id ?? NewId(),
            CredentialHash = hash ?? NewCredentialHash(),
            Subject = subject,
            Data = data ?? new Dictionary<string, string>(StringComparer.Ordinal),
            CreatedAt = created,
            LastSeenAt = seen,
            IdleExpiresAt = idleAt < absoluteAt ? idleAt : absoluteAt,
            AbsoluteExpiresAt = absoluteAt,
            Metadata = metadata ?? SessionMetadata.Empty,
        };
    }

    /// <summary>Asserts that a loaded record equals the expected one field by field (times compared as instants).</summary>
    /// <param name="expected">The record as it should be.</param>
    /// <param name="actual">The record as loaded; <see langword="null"/> fails.</param>
    protected static void AssertSameRecord(SessionRecord expected, SessionRecord? actual)
    {
        ArgumentNullException.ThrowIfNull(expected);
        Assert.NotNull(actual);
        Assert.Equal(expected.Id, actual.Id);
        Assert.Equal(expected.CredentialHash, actual.CredentialHash);
        Assert.Equal(expected.Subject, actual.Subject);
        AssertSameData(expected.Data, actual.Data);
        AssertSameInstant(expected.CreatedAt, actual.CreatedAt, nameof(SessionRecord.CreatedAt));
        AssertSameInstant(expected.LastSeenAt, actual.LastSeenAt, nameof(SessionRecord.LastSeenAt));
        AssertSameInstant(expected.IdleExpiresAt, actual.IdleExpiresAt, nameof(SessionRecord.IdleExpiresAt));
        AssertSameInstant(expected.AbsoluteExpiresAt, actual.AbsoluteExpiresAt, nameof(SessionRecord.AbsoluteExpiresAt));
        Assert.Equal(expected.RevokedAt, actual.RevokedAt);
        Assert.Equal(expected.Metadata, actual.Metadata);
    }

    /// <summary>Asserts that two data dictionaries hold the same keys with the same JSON values (compared as JSON, see <see cref="JsonAssert"/>).</summary>
    /// <param name="expected">The data as it should be.</param>
    /// <param name="actual">The data as loaded.</param>
    protected static void AssertSameData(IReadOnlyDictionary<string, string> expected, IReadOnlyDictionary<string, string> actual)
    {
        ArgumentNullException.ThrowIfNull(expected);
        Assert.NotNull(actual);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, json) in expected)
        {
            Assert.True(actual.TryGetValue(key, out var stored), $"key '{key}' is missing");
            JsonAssert.Equal(json, stored);
        }
    }

    private static void AssertSameInstant(DateTimeOffset expected, DateTimeOffset actual, string field) =>
        Assert.True(
            expected.UtcTicks == actual.UtcTicks,
            $"{field}: expected {expected:O}, got {actual:O} (times must round-trip at millisecond precision)");

    private static Dictionary<string, string> SampleData() => Data(
        ("cart", "[{\"sku\":\"A-1\",\"qty\":2},{\"sku\":\"B-2\",\"qty\":1}]"),
        ("name", "\"Zoë \\\"Z\\\" 🦊\""),
        ("count", "42"),
        ("flag", "true"),
        ("tessera:flash:notice", "\"saved\""));

    private static SessionPatch FullPatch(byte[] newHash) => new()
    {
        ClearData = true,
        Set = Data(("patched", "true")),
        Removed = ["gone"],
        SubjectChanged = true,
        Subject = "patched",
        NewCredentialHash = newHash,
        LastSeenAt = DateTimeOffset.UnixEpoch.AddYears(60),
        IdleExpiresAt = DateTimeOffset.UnixEpoch.AddYears(70),
    };

    private T? Capability<T>(ISessionStore store, bool declared, string property)
        where T : class
    {
        if (!declared)
        {
            return null;
        }
        return store as T ?? throw new Xunit.Sdk.XunitException(
            $"{store.GetType().Name} does not implement {typeof(T).Name}. Implement it, or override {property} to return false in {Kit.GetType().Name} (the store's kit) to declare that the store lacks it.");
    }
}
