using Microsoft.Extensions.Options;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// What a session may hold, driven through <see cref="SessionManager"/> on the store under test: awkward keys and values
/// come back exactly as written; keys and values no store can keep (control characters, unpaired surrogates, NUL) are
/// refused with <see cref="ArgumentException"/> before anything is written; and <see cref="TesseraOptions.MaxDataBytes"/>
/// refuses the write that would cross it with <see cref="SessionDataTooLargeException"/>, leaving the rest of the
/// request's changes and the stored session intact. Inherit it with your store's <see cref="StoreKit"/>.
/// </summary>
public abstract class SessionDataConformanceTests<TKit> : StoreKitTests<TKit>
    where TKit : StoreKit, new()
{
    private readonly string _key = SigningKeyRing.GenerateBase64Key();

    /// <summary>The store implements the optional interfaces this suite needs; when it does not, this test names them.</summary>
    [Fact]
    public void TheStoreImplementsWhatThisSuiteNeeds() =>
        StoreCapabilities.AssertImplements(CreateStore(), nameof(SessionDataConformanceTests<TKit>), typeof(Tokens.ISessionTokenStore));

    /// <summary>Keys that every store must keep as they are: each is valid text, however awkward.</summary>
    public static TheoryData<string> AwkwardKeys => new()
    {
        "with space", "dotted.key", "$dollar", "quote\"d", "back\\slash", "slash/key", "colon:key", "{brace}", "[0]",
        "üñïçødé", "日本語", "emoji😀", "rtl\u202Eevil", "line\u2028sep", "'single'", "<script>", "%41", "tessera", "TESSERA:upper",
        new string('k', 256),
    };

    /// <summary>String values that every store must give back exactly.</summary>
    public static TheoryData<string> AwkwardValues => new()
    {
        "", " ", "\"", "\\", "\\u0000 is text, not NUL", "</script><script>alert(1)</script>", "emoji😀 and 日本語", "\t\r\n\u0001\u001f\u007f",
        "\u2028\u2029", "{\"looks\":\"like json\"}", "null", "true", "1e309", new string('v', 20_000), "\uFEFFbom", "a\u0301 combining",
    };

    /// <summary>Keys no store can keep as text.</summary>
    public static TheoryData<string> UnsafeKeys => new()
    {
        "nul\0key", "tab\tkey", "newline\nkey", "bell\u0007", "del\u007f", "c1\u0085control", "lone\uD800high", "lone\uDC00low", "\uDC00\uD800reversed",
    };

    /// <summary>An awkward key round-trips on this store.</summary>
    /// <param name="key">The key.</param>
    /// <returns>The test.</returns>
    [Theory]
    [MemberData(nameof(AwkwardKeys))]
    public async Task AnAwkwardKeyComesBackAsWritten(string key)
    {
        var manager = NewManager();
        var credential = await WriteAsync(manager, null, s => s.Set(key, "value"));

        var session = await LoadAsync(manager, credential);

        Assert.Equal("value", session.Get<string>(key));
        Assert.Contains(key, session.Keys);
    }

    /// <summary>An awkward string value round-trips on this store, byte for byte.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The test.</returns>
    [Theory]
    [MemberData(nameof(AwkwardValues))]
    public async Task AnAwkwardValueComesBackAsWritten(string value)
    {
        var manager = NewManager();
        var credential = await WriteAsync(manager, null, s => s.Set("v", value));

        Assert.Equal(value, (await LoadAsync(manager, credential)).Get<string>("v"));
    }

    /// <summary>Numbers at the edges, nested objects and arrays round-trip as values.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task StructuredValuesComeBackAsWritten()
    {
        var manager = NewManager();
        var nested = new Nested(long.MaxValue, long.MinValue, 0.1m + 0.2m, double.Epsilon, ["a", "", "😀"], new Dictionary<string, int> { ["x y"] = 1, ["\"q\""] = -1 });
        var credential = await WriteAsync(manager, null, s => s.Set("nested", nested));

        var read = (await LoadAsync(manager, credential)).Get<Nested>("nested")!;

        Assert.Equal((nested.Max, nested.Min, nested.Decimal, nested.Tiny), (read.Max, read.Min, read.Decimal, read.Tiny));
        Assert.Equal(nested.Items, read.Items);
        Assert.Equal(nested.Map.OrderBy(e => e.Key, StringComparer.Ordinal), read.Map.OrderBy(e => e.Key, StringComparer.Ordinal));
    }

    /// <summary>An unsafe key is refused by every write and read, before any store call.</summary>
    /// <param name="key">The key.</param>
    /// <returns>The test.</returns>
    [Theory]
    [MemberData(nameof(UnsafeKeys), DisableDiscoveryEnumeration = true)] // xunit would mangle unpaired surrogates when serializing cases
    public async Task AKeyNoStoreCanKeepIsRefusedBeforeAnythingIsWritten(string key)
    {
        var store = new CountingSessionStore(CreateStore());
        var manager = NewManager(store);
        var credential = await WriteAsync(manager, null, s => s.Set("kept", 1));
        store.Reset();
        var session = await LoadAsync(manager, credential);

        Assert.Throws<ArgumentException>(() => session.Set(key, "value"));
        Assert.Throws<ArgumentException>(() => session.SetFlash(key, "value"));
        Assert.Throws<ArgumentException>(() => session.Get<string>(key));
        Assert.Throws<ArgumentException>(() => session.Remove(key));
        Assert.Throws<ArgumentException>(() => new SessionKey<string>(key));
        await Assert.ThrowsAsync<ArgumentException>(async () => await manager.Tokens.CreateAsync("alice", new Dictionary<string, string> { [key] = "1" }));
        await session.CommitAsync();

        Assert.Equal(0, store.Writes);
        Assert.Equal(1, (await LoadAsync(manager, credential)).Get<int>("kept"));
    }

    /// <summary>A value with NUL in it is refused (PostgreSQL cannot store it, so no store takes it), on every store alike.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AValueWithNulIsRefusedOnEveryStoreAlike()
    {
        var manager = NewManager();
        var session = manager.Open(null);
        await session.LoadAsync();

        var error = Assert.Throws<ArgumentException>(() => session.Set("v", "a\0b"));
        Assert.Contains("NUL", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => session.Set("v", new[] { "fine", "not\0fine" }));
        await Assert.ThrowsAsync<ArgumentException>(async () => await manager.Tokens.CreateAsync("alice", new Dictionary<string, string> { ["v"] = "\"a\\u0000b\"" }));
        session.Set("v", "a\\u0000b is fine: an escaped backslash, then text");
        var committed = await session.CommitAsync();

        Assert.Equal("a\\u0000b is fine: an escaped backslash, then text", (await LoadAsync(manager, committed.Credential!)).Get<string>("v"));
    }

    /// <summary>
    /// A write that would cross <see cref="TesseraOptions.MaxDataBytes"/> throws and is not made; the request's other
    /// changes commit; what is stored stays within the limit.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AWriteOverTheDataLimitIsRefusedAndTheRestCommits()
    {
        var manager = NewManager(limit: 2048);
        var credential = await WriteAsync(manager, null, s => s.Set("a", new string('a', 1000)));
        var session = await LoadAsync(manager, credential);

        session.Set("small", "kept");
        var error = Assert.Throws<SessionDataTooLargeException>(() => session.Set("b", new string('b', 1100)));
        Assert.Equal(2048, error.Limit);
        Assert.True(error.Size > 2048);
        Assert.DoesNotContain("bbbb", error.Message, StringComparison.Ordinal);
        Assert.Null(session.Get<string>("b"));
        await session.CommitAsync();

        var stored = await LoadAsync(manager, credential);
        Assert.Equal("kept", stored.Get<string>("small"));
        Assert.Null(stored.Get<string>("b"));
        Assert.Equal(1000, stored.Get<string>("a")!.Length);
    }

    /// <summary>Replacing a value counts the difference, flashes count, removing and clearing give the room back.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TheLimitCountsReplacementsFlashesRemovalsAndClears()
    {
        var manager = NewManager(limit: 1024);
        var session = manager.Open(null);
        await session.LoadAsync();

        session.Set("a", new string('a', 900));
        session.Set("a", new string('a', 1000)); // replaces: about 1,010 bytes in all
        Assert.Throws<SessionDataTooLargeException>(() => session.SetFlash("f", new string('f', 100)));
        session.Remove("a");
        session.SetFlash("f", new string('f', 900));
        Assert.Throws<SessionDataTooLargeException>(() => session.Set("b", new string('b', 200)));
        session.Clear();
        session.Set("b", new string('b', 1000));
        var committed = await session.CommitAsync();

        var stored = await LoadAsync(manager, committed.Credential!);
        Assert.Equal(1000, stored.Get<string>("b")!.Length);
        Assert.Null(stored.PeekFlash<string>("f"));
    }

    /// <summary>Data already above a lowered limit stays readable and may shrink, but not grow.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task DataAboveALoweredLimitStaysReadableAndMayOnlyShrink()
    {
        var store = CreateStore();
        var roomy = NewManager(store, limit: 8192);
        var credential = await WriteAsync(roomy, null, s =>
        {
            s.Set("a", new string('a', 3000));
            s.Set("b", new string('b', 3000));
        });
        var tight = NewManager(store, limit: 4096);

        var session = await LoadAsync(tight, credential);
        Assert.Equal(3000, session.Get<string>("a")!.Length);
        Assert.Throws<SessionDataTooLargeException>(() => session.Set("c", "x"));
        session.Set("a", "short");
        session.Set("c", "x");
        await session.CommitAsync();

        var stored = await LoadAsync(tight, credential);
        Assert.Equal(("short", "x"), (stored.Get<string>("a"), stored.Get<string>("c")));
    }

    /// <summary>Token sessions are bounded the same way, at creation and on update.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TokenSessionDataIsBoundedToo()
    {
        var manager = NewManager(limit: 1024);
        var big = new Dictionary<string, string> { ["v"] = $"\"{new string('x', 2000)}\"" };
        await Assert.ThrowsAsync<SessionDataTooLargeException>(async () => await manager.Tokens.CreateAsync("alice", big));

        var pair = await manager.Tokens.CreateAsync("alice", new Dictionary<string, string> { ["v"] = "1" });
        await Assert.ThrowsAsync<SessionDataTooLargeException>(async () => await manager.Tokens.UpdateAsync(pair.AccessToken, big));
        var stored = await manager.Tokens.GetAsync(pair.AccessToken);
        Assert.Equal("1", stored.Value!.Data["v"]);
    }

    private SessionManager NewManager(ISessionStore? store = null, int? limit = 64 * 1024)
    {
        var options = new TesseraOptions { MaxDataBytes = limit };
        options.Keys.Add(_key);
        return new SessionManager(store ?? CreateStore(), Options.Create(options), Clock);
    }

    private static async Task<string> WriteAsync(SessionManager manager, string? credential, Action<TesseraSession> write)
    {
        var session = manager.Open(credential);
        await session.LoadAsync();
        write(session);
        var result = await session.CommitAsync();
        return result.Credential ?? credential ?? throw new InvalidOperationException("No credential was issued.");
    }

    private static async Task<TesseraSession> LoadAsync(SessionManager manager, string credential)
    {
        var session = manager.Open(credential);
        await session.LoadAsync();
        Assert.False(session.IsNew);
        return session;
    }

    /// <summary>A structured value.</summary>
    /// <param name="Max">The largest long.</param>
    /// <param name="Min">The smallest long.</param>
    /// <param name="Decimal">A decimal that a double would round.</param>
    /// <param name="Tiny">The smallest positive double.</param>
    /// <param name="Items">An array with awkward strings.</param>
    /// <param name="Map">An object with awkward names.</param>
    public sealed record Nested(long Max, long Min, decimal Decimal, double Tiny, string[] Items, Dictionary<string, int> Map);
}
