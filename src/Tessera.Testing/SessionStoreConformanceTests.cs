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

    /// <summary>Whether the store implements <see cref="ISessionStoreAdministration"/>: <see cref="StoreKit.SupportsAdministration"/>.</summary>
    protected bool SupportsAdministration => Kit.SupportsAdministration;

    /// <summary>Whether the store implements <see cref="ISubjectSessionLimiter"/>: <see cref="StoreKit.SupportsSubjectLimit"/>.</summary>
    protected bool SupportsSubjectLimit => Kit.SupportsSubjectLimit;

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

        AssertSameRecord(record, await store.LoadByCredentialAsync(record));
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

        var loaded = await store.LoadByCredentialAsync(buffer.AsMemory(4, record.CredentialHash.Length), record.Id);

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
        AssertSameData(data, (await store.LoadByCredentialAsync(record))!.Data);
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
        Assert.Null(await store.LoadByCredentialAsync(NewCredentialHash(), NewId()));
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
        var loaded = await store.LoadByCredentialAsync(hash, record.Id);
        Assert.NotNull(loaded);
        loaded.CredentialHash[1] ^= 0xFF;

        var again = await store.LoadByCredentialAsync(hash, record.Id);
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
        AssertSameRecord(first, await store.LoadByCredentialAsync(first));
        Assert.Null(await store.LoadByCredentialAsync(second));
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
        AssertSameRecord(first, await store.LoadByCredentialAsync(first));
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
            Assert.Equal(record.Id, (await store.LoadByCredentialAsync(record))!.Id);
        }
    }

    /// <summary>
    /// A routed store (<see cref="IRoutedSessionStore"/>) finds a session by its credential on the session's route, and
    /// finds nothing on another route, not even a session that lives there. A store that is not routed finds the
    /// session by the plain lookup, and nothing for a credential it never stored; a wrapper over such a store ignores
    /// the route.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ACredentialsRouteFindsItsSessionAndAnotherRouteFindsNothing()
    {
        var store = CreateStore();
        var record = NewRecord(subject: "alice", data: Data(("cart", "[\"apple\"]")));
        var route = SessionRoute.Of(record.Id);
        var elsewhere = new SessionRoute((ushort)(route.Value ^ 0x8001));
        // A neighbour on the other route: a wrong route must not find it either.
        var neighbour = NewRecord(id: SessionRoute.NewTokenId(elsewhere.ToString()), subject: "bob");
        Assert.True(await store.CreateAsync(record));
        Assert.True(await store.CreateAsync(neighbour));

        if (store is IRoutedSessionStore routed)
        {
            AssertSameRecord(record, await routed.LoadByCredentialAsync(record.CredentialHash, route));
            AssertSameRecord(neighbour, await routed.LoadByCredentialAsync(neighbour.CredentialHash, elsewhere));
            var wrong = await routed.LoadByCredentialAsync(record.CredentialHash, elsewhere);
            if (SessionStoreLookups.IsRouted(store))
            {
                Assert.Null(wrong);
            }
            else
            {
                AssertSameRecord(record, wrong);
            }
            Assert.Null(await routed.LoadByCredentialAsync(NewCredentialHash(), route));
        }
        else
        {
            AssertSameRecord(record, await store.LoadByCredentialAsync(record.CredentialHash));
            AssertSameRecord(neighbour, await store.LoadByCredentialAsync(neighbour.CredentialHash));
            Assert.Null(await store.LoadByCredentialAsync(NewCredentialHash()));
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
