using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// Per-tab scopes (<see cref="TesseraSession.IssueTab"/>, <see cref="TesseraSession.FindTab"/>) on the store under test,
/// driven through <see cref="SessionManager"/>: each tab keeps its own data apart from the session's and the other tabs',
/// only ids the session issued open anything, the bound evicts the least recently used tab with its data, two requests
/// in two tabs both keep their writes, and tab data counts against <see cref="TesseraOptions.MaxDataBytes"/>. Tabs are
/// reserved keys of the session's data, so every store must keep them as it keeps any key. Inherit it and implement
/// <see cref="StoreKitTests{TKit}.CreateStore"/>.
/// </summary>
public abstract class TabScopeConformanceTests<TKit> : StoreKitTests<TKit>
    where TKit : StoreKit, new()
{
    private readonly string _key = SigningKeyRing.GenerateBase64Key();

    /// <summary>
    /// Two tabs and the session each keep their own value under the same key, across requests; tab keys are not among the
    /// session's keys, and each tab lists only its own.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task EachTabKeepsItsOwnDataApartFromTheSessionAndTheOtherTabs()
    {
        var manager = NewManager();
        string first = null!, second = null!;
        var credential = await WriteAsync(manager, null, s =>
        {
            first = s.IssueTab();
            second = s.IssueTab();
            s.FindTab(first)!.Set("cart", new List<string> { "apple" });
            s.FindTab(second)!.Set("cart", new List<string> { "pear", "plum" });
            s.Set("cart", new List<string> { "session" });
        });

        var session = await LoadAsync(manager, credential);

        Assert.Equal(["apple"], session.FindTab(first)!.Get<List<string>>("cart")!);
        Assert.Equal(["pear", "plum"], session.FindTab(second)!.Get<List<string>>("cart")!);
        Assert.Equal(["session"], session.Get<List<string>>("cart")!);
        Assert.Equal(["cart"], session.Keys);
        Assert.Equal(["cart"], session.FindTab(first)!.Keys);
        Assert.NotEqual(first, second);
        Assert.Matches("^[A-Za-z0-9_-]{22}$", first);
        Assert.Equal(new[] { first, second }.Order(StringComparer.Ordinal), session.TabIds.Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Two requests of one session, in two tabs, loaded before either commits: each writes its own tab's cart, and both
    /// carts survive, as two requests writing two different session keys do. Two tabs issued at the same time both stay.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TwoRequestsInTwoTabsBothKeepTheirWrites()
    {
        var manager = NewManager();
        string first = null!, second = null!;
        var credential = await WriteAsync(manager, null, s =>
        {
            first = s.IssueTab();
            second = s.IssueTab();
        });
        var inFirst = await LoadAsync(manager, credential);
        var inSecond = await LoadAsync(manager, credential);

        inFirst.FindTab(first)!.Set("cart", new List<string> { "apple" });
        inSecond.FindTab(second)!.Set("cart", new List<string> { "pear" });
        var third = inFirst.IssueTab();
        var fourth = inSecond.IssueTab();
        await Task.WhenAll(inFirst.CommitAsync().AsTask(), inSecond.CommitAsync().AsTask());

        var session = await LoadAsync(manager, credential);
        Assert.Equal(["apple"], session.FindTab(first)!.Get<List<string>>("cart")!);
        Assert.Equal(["pear"], session.FindTab(second)!.Get<List<string>>("cart")!);
        Assert.NotNull(session.FindTab(third));
        Assert.NotNull(session.FindTab(fourth));
    }

    /// <summary>
    /// Only an id this session issued opens a tab: no id, an empty, malformed, over-long or guessed one, and a tab id
    /// another session issued all give <see langword="null"/>, throw nothing and write nothing.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AnIdTheSessionDidNotIssueOpensNothing()
    {
        var store = new CountingSessionStore(CreateStore());
        var manager = NewManager(store);
        string mine = null!, foreign = null!;
        var credential = await WriteAsync(manager, null, s => s.FindTab(mine = s.IssueTab())!.Set("cart", "mine"));
        await WriteAsync(manager, null, s => s.FindTab(foreign = s.IssueTab())!.Set("cart", "theirs"));
        store.Reset();

        var session = await LoadAsync(manager, credential);
        var guessed = System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));
        string?[] ids = [null, "", " ", "0", mine + "x", mine[..21], mine.ToUpperInvariant() == mine ? mine.ToLowerInvariant() : mine.ToUpperInvariant(),
            mine[..21] + "+", mine[..21] + ":", "../" + mine[3..], new string('A', 22), guessed, foreign, new string('x', 10_000)];
        foreach (var id in ids)
        {
            Assert.Null(session.FindTab(id));
            Assert.False(session.CloseTab(id));
        }
        await session.CommitAsync();

        Assert.Equal(0, store.Writes);
        Assert.Equal("mine", (await LoadAsync(manager, credential)).FindTab(mine)!.Get<string>("cart"));
    }

    /// <summary>
    /// Issuing a tab beyond <see cref="TesseraTabOptions.MaxTabsPerSession"/> closes the least recently used one (a tab
    /// opened with <see cref="TesseraSession.FindTab"/> counts as used), and its data leaves the store with it.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task IssuingBeyondTheBoundEvictsTheLeastRecentlyUsedTabWithItsData()
    {
        var store = CreateStore();
        var manager = NewManager(store, configure: o => o.Tabs.MaxTabsPerSession = 3);
        var ids = new List<string>();
        string credential = null!;
        foreach (var item in new[] { "a", "b", "c" })
        {
            credential = await WriteAsync(manager, credential, s => s.FindTab(Add(ids, s.IssueTab()))!.Set("cart", item));
            Clock.Advance(TimeSpan.FromMinutes(2));
        }
        // The first tab is used again: the second is now the least recently used.
        Assert.Equal("a", (await RunAsync(manager, credential, s => s.FindTab(ids[0])!.Get<string>("cart"))).Value);
        Clock.Advance(TimeSpan.FromMinutes(2));

        var fourth = (await RunAsync(manager, credential, s => s.IssueTab())).Value;

        var session = await LoadAsync(manager, credential);
        Assert.Equal([fourth, ids[0], ids[2]], session.TabIds); // before FindTab below records uses of its own
        Assert.Null(session.FindTab(ids[1]));
        Assert.Equal("a", session.FindTab(ids[0])!.Get<string>("cart"));
        Assert.Equal("c", session.FindTab(ids[2])!.Get<string>("cart"));
        Assert.NotNull(session.FindTab(fourth));
        var stored = await store.LoadAsync(session.Id);
        Assert.DoesNotContain(stored!.Data.Keys, k => k.Contains(ids[1], StringComparison.Ordinal));
        Assert.Equal(2, stored.Data.Keys.Count(k => k.StartsWith("tessera:tab:", StringComparison.Ordinal)));
    }

    /// <summary>
    /// Opening a tab records its use at most once per <see cref="TesseraOptions.TouchInterval"/>: a stream of reads in one
    /// tab writes nothing until the interval has passed, then one write.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task OpeningATabRecordsItsUseAtMostOncePerTouchInterval()
    {
        var store = new CountingSessionStore(CreateStore());
        var manager = NewManager(store);
        string tab = null!;
        var credential = await WriteAsync(manager, null, s => tab = s.IssueTab());
        store.Reset();

        for (var i = 0; i < 3; i++)
        {
            Clock.Advance(TimeSpan.FromSeconds(15));
            await WriteAsync(manager, credential, s => Assert.NotNull(s.FindTab(tab)));
        }
        Assert.Equal(0, store.Writes);

        Clock.Advance(TimeSpan.FromSeconds(20));
        await WriteAsync(manager, credential, s => Assert.NotNull(s.FindTab(tab)));
        Assert.Equal(1, store.Writes);
    }

    /// <summary>A closed tab's id opens nothing any more and its data is gone; the other tabs and the session's data stay.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ClosingATabDropsItsIdAndItsData()
    {
        var store = CreateStore();
        var manager = NewManager(store);
        string closed = null!, kept = null!;
        var credential = await WriteAsync(manager, null, s =>
        {
            s.FindTab(closed = s.IssueTab())!.Set("cart", "closed");
            s.FindTab(kept = s.IssueTab())!.Set("cart", "kept");
            s.Set("user-data", 1);
        });

        Assert.True((await RunAsync(manager, credential, s => s.CloseTab(closed))).Value);

        var session = await LoadAsync(manager, credential);
        Assert.Null(session.FindTab(closed));
        Assert.Equal("kept", session.FindTab(kept)!.Get<string>("cart"));
        Assert.Equal(1, session.Get<int>("user-data"));
        var stored = await store.LoadAsync(session.Id);
        Assert.DoesNotContain(stored!.Data.Keys, k => k.Contains(closed, StringComparison.Ordinal));
    }

    /// <summary>
    /// A tab closed or evicted earlier in the same request reads as empty and refuses writes, so no data is left behind
    /// without its tab.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AWriteToATabClosedEarlierInTheRequestIsRefused()
    {
        var manager = NewManager(configure: o => o.Tabs.MaxTabsPerSession = 1);
        var session = manager.Open(null);
        await session.LoadAsync();
        var first = session.FindTab(session.IssueTab())!;
        first.Set("cart", "apple");

        var second = session.FindTab(session.IssueTab())!; // evicts the first: the bound is one

        Assert.False(first.IsOpen);
        Assert.Null(first.Get<string>("cart"));
        Assert.Empty(first.Keys);
        Assert.Throws<InvalidOperationException>(() => first.Set("cart", "pear"));
        Assert.Throws<InvalidOperationException>(() => first.Clear());
        second.Set("cart", "plum");
        Assert.True(second.IsOpen);
        Assert.Equal([second.Id], session.TabIds);
    }

    /// <summary>
    /// Tab data counts against <see cref="TesseraOptions.MaxDataBytes"/> like any other: the write that would cross it
    /// throws (naming the tab key, never the tab id) and is not made; closing a tab gives its room back.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TabDataCountsAgainstTheDataLimit()
    {
        var manager = NewManager(limit: 2048);
        string first = null!, second = null!;
        var credential = await WriteAsync(manager, null, s =>
        {
            s.FindTab(first = s.IssueTab())!.Set("cart", new string('a', 1000));
            second = s.IssueTab();
        });
        var session = await LoadAsync(manager, credential);

        var error = Assert.Throws<SessionDataTooLargeException>(() => session.FindTab(second)!.Set("cart", new string('b', 1000)));
        Assert.DoesNotContain(second, error.Message, StringComparison.Ordinal);
        Assert.Contains("cart", error.Message, StringComparison.Ordinal);
        Assert.Null(session.FindTab(second)!.Get<string>("cart"));
        Assert.True(session.CloseTab(first));
        session.FindTab(second)!.Set("cart", new string('b', 1000));
        await session.CommitAsync();

        var stored = await LoadAsync(manager, credential);
        Assert.Equal(1000, stored.FindTab(second)!.Get<string>("cart")!.Length);
        Assert.Null(stored.FindTab(first));
    }

    /// <summary>
    /// A write that raced its tab's closing in another request leaves a value without a tab: it opens nothing, and the
    /// next <see cref="TesseraSession.IssueTab"/> removes it from the store.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AValueLeftByAWriteThatRacedItsTabsClosingIsDroppedByTheNextIssue()
    {
        var store = CreateStore();
        var manager = NewManager(store);
        string tab = null!;
        var credential = await WriteAsync(manager, null, s => tab = s.IssueTab());
        var writer = await LoadAsync(manager, credential);
        var scope = writer.FindTab(tab)!;

        await WriteAsync(manager, credential, s => Assert.True(s.CloseTab(tab)));
        scope.Set("cart", "late");
        await writer.CommitAsync();
        var id = writer.Id;
        Assert.Contains((await store.LoadAsync(id))!.Data.Keys, k => k.Contains(tab, StringComparison.Ordinal));
        Assert.Null((await LoadAsync(manager, credential)).FindTab(tab));

        await WriteAsync(manager, credential, s => s.IssueTab());

        Assert.DoesNotContain((await store.LoadAsync(id))!.Data.Keys, k => k.Contains(tab, StringComparison.Ordinal));
    }

    /// <summary>
    /// Tabs live in the session: regenerating and signing in from anonymous keep them; signing in as another subject
    /// and destroying the session drop them.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TabsSurviveRegenerationAndSignInButNotAnotherSubjectOrDestroy()
    {
        var manager = NewManager();
        string tab = null!;
        var credential = await WriteAsync(manager, null, s => s.FindTab(tab = s.IssueTab())!.Set("cart", "apple"));

        credential = await WriteAsync(manager, credential, s => s.Regenerate());
        credential = await WriteAsync(manager, credential, s => s.SignIn("alice"));
        Assert.Equal("apple", (await LoadAsync(manager, credential)).FindTab(tab)!.Get<string>("cart"));

        credential = await WriteAsync(manager, credential, s => s.SignIn("bob"));
        Assert.Null((await LoadAsync(manager, credential)).FindTab(tab));

        var again = await WriteAsync(manager, credential, s => s.FindTab(tab = s.IssueTab())!.Set("cart", "pear"));
        var destroyed = await LoadAsync(manager, again);
        destroyed.Destroy();
        Assert.Null(destroyed.FindTab(tab));
        Assert.Empty(destroyed.TabIds);
    }

    /// <summary>A token session keeps tabs like a cookie session: they are data of the session, whatever the credential.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ATokenSessionKeepsTabsToo()
    {
        var manager = NewManager();
        var pair = await manager.Tokens.CreateAsync("alice");
        var writer = manager.OpenWithAccessToken(pair.AccessToken);
        await writer.LoadAsync();
        var tab = writer.IssueTab();
        writer.FindTab(tab)!.Set("cart", "apple");
        await writer.CommitAsync();

        var reader = manager.OpenWithAccessToken(pair.AccessToken);
        await reader.LoadAsync();

        Assert.Equal("apple", reader.FindTab(tab)!.Get<string>("cart"));
        Assert.Empty(reader.Keys);
    }

    private SessionManager NewManager(ISessionStore? store = null, int? limit = 64 * 1024, Action<TesseraOptions>? configure = null)
    {
        var options = new TesseraOptions { MaxDataBytes = limit };
        options.Keys.Add(_key);
        configure?.Invoke(options);
        return new SessionManager(store ?? CreateStore(), Options.Create(options), Clock);
    }

    /// <summary>One request: opens the session, runs <paramref name="write"/>, commits; returns the credential in force after it.</summary>
    private static async Task<string> WriteAsync(SessionManager manager, string? credential, Action<TesseraSession> write) =>
        (await RunAsync(manager, credential, s =>
        {
            write(s);
            return true;
        })).Credential;

    /// <summary>One request that answers something: the credential in force after it (a new one when it issued one) and the answer.</summary>
    private static async Task<(string Credential, T Value)> RunAsync<T>(SessionManager manager, string? credential, Func<TesseraSession, T> action)
    {
        var session = manager.Open(credential);
        await session.LoadAsync();
        var value = action(session);
        var result = await session.CommitAsync();
        return (result.Credential ?? credential ?? throw new InvalidOperationException("No credential was issued."), value);
    }

    private static async Task<TesseraSession> LoadAsync(SessionManager manager, string credential)
    {
        var session = manager.Open(credential);
        await session.LoadAsync();
        Assert.False(session.IsNew);
        return session;
    }

    private static string Add(List<string> ids, string id)
    {
        ids.Add(id);
        return id;
    }

}
