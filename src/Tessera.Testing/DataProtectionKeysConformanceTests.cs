using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Tessera.AspNetCore.DataProtectionKeys;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// <c>UseDataProtectionKeys()</c> over a store that keeps the key ring (<see cref="IKeyRingStore"/>): real Kestrel
/// servers without <c>Tessera:Keys</c>, sharing one store and a Data Protection key ring persisted to a directory,
/// accept each other's cookies and tokens; an instance with another Data Protection key ring refuses to start; keys
/// rotate on the fake clock with an overlap; instances starting together agree on one key.
/// </summary>
/// <typeparam name="TKit">The store kit.</typeparam>
public abstract class DataProtectionKeysConformanceTests<TKit> : HttpConformanceTestBase<TKit>
    where TKit : StoreKit, new()
{
    /// <summary>Two instances sharing a Data Protection key ring and the store, without Tessera:Keys, accept each other's cookies and tokens.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task TwoInstancesSharingADataProtectionKeyRingAndTheStoreAcceptEachOthersCookiesAndTokens()
    {
        var store = CreateStore();
        var keyRing = CreateTemporaryDirectory();
        var first = await StartAsync(store, keyRing);
        var second = await StartAsync(store, keyRing);
        Assert.Equal(first.Manager.Keys.Current.Id, second.Manager.Keys.Current.Id);

        using var browser = first.CreateClient();
        await browser.PostAsync("/signin/alice");
        await browser.PostAsync("/set/cart/apple");
        using var elsewhere = second.CreateClient();
        elsewhere.Cookie = browser.Cookie;
        Assert.Equal("alice", await elsewhere.GetStringAsync("/whoami"));
        Assert.Equal("apple", await elsewhere.GetStringAsync("/read/cart"));

        var pair = await second.Manager.Tokens.CreateAsync("bob", cancellationToken: TestContext.Current.CancellationToken);
        using var app = first.CreateClient();
        app.AccessToken = pair.AccessToken;
        Assert.Equal("bob", await app.GetStringAsync("/whoami"));
        using var refresh = await app.SendAsync(HttpMethod.Post, "/tokens/refresh", new StringContent(JsonSerializer.Serialize(new { refreshToken = pair.RefreshToken }), Encoding.UTF8, "application/json"));
        Assert.Equal(System.Net.HttpStatusCode.OK, refresh.StatusCode);
    }

    /// <summary>The key ring kept in the store holds the keys protected, never in the clear, and an instance started later finds them.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task TheStoreKeepsTheKeysProtectedAndAnInstanceStartedLaterFindsThem()
    {
        var store = CreateStore();
        var keyRing = CreateTemporaryDirectory();
        var first = await StartAsync(store, keyRing);
        using var browser = first.CreateClient();
        await browser.PostAsync("/signin/alice");
        var keyId = first.Manager.Keys.Current.Id;

        var stored = await ((IKeyRingStore)store).LoadKeyRingAsync(TestContext.Current.CancellationToken);
        Assert.NotNull(stored);
        using var document = JsonDocument.Parse(stored.Document);
        var key = Assert.Single(document.RootElement.GetProperty("keys").EnumerateArray());
        Assert.Equal(keyId, key.GetProperty("id").GetString());
        // Data Protection's payloads start with its magic header 09 F0 C9 F0; a raw 32-byte key would be 44 base64 characters.
        var material = Convert.FromBase64String(key.GetProperty("material").GetString()!);
        Assert.Equal(new byte[] { 0x09, 0xF0, 0xC9, 0xF0 }, material[..4]);

        var restarted = await StartAsync(store, keyRing);
        Assert.Single(restarted.Manager.Keys.Keys);
        using var again = restarted.CreateClient();
        again.Cookie = browser.Cookie;
        Assert.Equal("alice", await again.GetStringAsync("/whoami"));
        Assert.Equal(keyId, restarted.Manager.Keys.Current.Id);
    }

    /// <summary>An instance whose Data Protection key ring is another one cannot read the keys: it refuses to start, says why, names key ids only, and leaves the keys alone.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AnInstanceWithAnotherDataProtectionKeyRingRefusesToStartAndSaysWhyWithoutASecret()
    {
        var store = CreateStore();
        var first = await StartAsync(store, CreateTemporaryDirectory());
        var keyId = first.Manager.Keys.Current.Id;
        var before = await ((IKeyRingStore)store).LoadKeyRingAsync(TestContext.Current.CancellationToken);
        var material = JsonDocument.Parse(before!.Document).RootElement.GetProperty("keys")[0].GetProperty("material").GetString()!;
        var logs = new FakeLogCollector();

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync(store, CreateTemporaryDirectory(), logs: logs));

        Assert.Contains(keyId, refused.Message, StringComparison.Ordinal);
        Assert.Contains("Data Protection", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(material[..16], refused.Message, StringComparison.Ordinal);
        var logged = Assert.Single(logs.GetSnapshot(), r => r.Id.Id == 2602);
        Assert.Equal(LogLevel.Error, logged.Level);
        Assert.Contains(keyId, logged.Message, StringComparison.Ordinal);
        Assert.All(logs.GetSnapshot(), r => Assert.DoesNotContain(material[..16], r.Message, StringComparison.Ordinal));
        Assert.Equal(before, await ((IKeyRingStore)store).LoadKeyRingAsync(TestContext.Current.CancellationToken));
    }

    /// <summary>
    /// Keys rotate on the fake clock: the successor is known to every instance before it signs, both instances always
    /// sign with the same key, a cookie signed before the rotation still works after it, and a key is dropped only once
    /// its retention has passed.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task KeysRotateOnScheduleWithAnOverlapInWhichOldKeysStillVerify()
    {
        var store = CreateStore();
        var keyRing = CreateTemporaryDirectory();
        var first = await StartAsync(store, keyRing, Rotation, LongSessions);
        var second = await StartAsync(store, keyRing, Rotation, LongSessions);
        var firstRing = first.Services.GetRequiredService<DataProtectionKeyRing>();
        var secondRing = second.Services.GetRequiredService<DataProtectionKeyRing>();
        var original = first.Manager.Keys.Current.Id;
        using var early = first.CreateClient();
        await early.PostAsync("/signin/early");

        // Day 8 and a bit: within the propagation time of the first key (expires on day 10), a successor is generated.
        Clock.Advance(TimeSpan.FromDays(8) + TimeSpan.FromHours(1));
        await firstRing.RefreshAsync(TestContext.Current.CancellationToken);
        await secondRing.RefreshAsync(TestContext.Current.CancellationToken);
        Assert.Equal(2, first.Manager.Keys.Keys.Count);
        Assert.Equal(first.Manager.Keys.Keys.Select(k => k.Id).Order(), second.Manager.Keys.Keys.Select(k => k.Id).Order());
        Assert.Equal(original, first.Manager.Keys.Current.Id);
        Assert.Equal(original, second.Manager.Keys.Current.Id);

        // Day 10: the successor signs; the cookie signed with the first key still works on both instances.
        Clock.Advance(TimeSpan.FromDays(2));
        await firstRing.RefreshAsync(TestContext.Current.CancellationToken);
        await secondRing.RefreshAsync(TestContext.Current.CancellationToken);
        var successor = first.Manager.Keys.Current.Id;
        Assert.NotEqual(original, successor);
        Assert.Equal(successor, second.Manager.Keys.Current.Id);
        using var late = second.CreateClient();
        await late.PostAsync("/signin/late");
        foreach (var server in new[] { first, second })
        {
            using var client = server.CreateClient();
            client.Cookie = early.Cookie;
            Assert.Equal("early", await client.GetStringAsync("/whoami"));
            client.Cookie = late.Cookie;
            Assert.Equal("late", await client.GetStringAsync("/whoami"));
        }

        // Day by day to day 31: the instances always agree; the first key verifies until day 10 + 20 days of retention.
        for (var day = 11; day <= 31; day++)
        {
            Clock.Advance(TimeSpan.FromDays(1));
            await firstRing.RefreshAsync(TestContext.Current.CancellationToken);
            await secondRing.RefreshAsync(TestContext.Current.CancellationToken);
            Assert.Equal(first.Manager.Keys.Current.Id, second.Manager.Keys.Current.Id);
            Assert.Equal(day < 30, first.Manager.Keys.Find(original) is not null);
        }
        var stored = await ((IKeyRingStore)store).LoadKeyRingAsync(TestContext.Current.CancellationToken);
        Assert.DoesNotContain(original, stored!.Document, StringComparison.Ordinal);
    }

    /// <summary>The background refresh runs on the injected clock: moving it into the propagation time makes every instance learn the successor, without a call.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task TheBackgroundRefreshFollowsTheInjectedClock()
    {
        var store = CreateStore();
        var keyRing = CreateTemporaryDirectory();
        var first = await StartAsync(store, keyRing, Rotation, LongSessions);
        var second = await StartAsync(store, keyRing, Rotation, LongSessions);
        Assert.Single(second.Manager.Keys.Keys);

        Clock.Advance(TimeSpan.FromDays(8) + TimeSpan.FromHours(1));

        // Waits for the instances' own timers to fire and their reads to finish (the clock does not move meanwhile).
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (first.Manager.Keys.Keys.Count < 2 || second.Manager.Keys.Keys.Count < 2)
        {
            await Task.Delay(20, deadline.Token);
        }
        Assert.Equal(first.Manager.Keys.Keys.Select(k => k.Id).Order(), second.Manager.Keys.Keys.Select(k => k.Id).Order());
    }

    /// <summary>
    /// Two instances that start at once on an empty store both decide to generate the first key; the store's
    /// compare-and-swap lets one save, the other reads that key, and each accepts the other's cookies.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task TwoInstancesStartingAtOnceAgreeOnOneKey()
    {
        var store = CreateStore();
        var racing = new RacingKeyRingStore((IKeyRingStore)store, readers: 2);
        var keyRing = CreateTemporaryDirectory();
        // One Data Protection key first, so the race is Tessera's alone (Data Protection resolves its own).
        using (var warmUp = new ServiceCollection().AddDataProtection().SetApplicationName(ApplicationName).PersistKeysToFileSystem(keyRing).Services.BuildServiceProvider())
        {
            _ = warmUp.GetDataProtector("warm-up").Protect("x");
        }

        var servers = await Task.WhenAll(
            StartAsync(store, keyRing, o => o.Store = _ => racing),
            StartAsync(store, keyRing, o => o.Store = _ => racing));

        Assert.Equal(2, racing.Saves);
        Assert.Equal(1, racing.SavesWon);
        Assert.Equal(servers[0].Manager.Keys.Current.Id, servers[1].Manager.Keys.Current.Id);
        var stored = await ((IKeyRingStore)store).LoadKeyRingAsync(TestContext.Current.CancellationToken);
        Assert.Single(JsonDocument.Parse(stored!.Document).RootElement.GetProperty("keys").EnumerateArray());
        for (var i = 0; i < 2; i++)
        {
            using var browser = servers[i].CreateClient();
            await browser.PostAsync("/signin/alice");
            using var other = servers[1 - i].CreateClient();
            other.Cookie = browser.Cookie;
            Assert.Equal("alice", await other.GetStringAsync("/whoami"));
        }
    }

    /// <summary>
    /// With Tessera:Keys as well, those keys sign the tokens (so another system can verify them) and the generated keys
    /// sign the cookies: an instance with only Tessera:Keys accepts the tokens and refuses the cookies.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task WithTesseraKeysTooThoseSignTheTokensAndTheGeneratedKeysSignTheCookies()
    {
        var store = CreateStore();
        var generated = await StartAsync(store, CreateTemporaryDirectory(), tesseraKeys: [Key]);
        var configuredOnly = await StartTestServerAsync(store, [Key], ConfigureServices, bearerTokens: true);
        var configuredId = SigningKeyRing.FromBase64([Key]).Current.Id;
        Assert.NotEqual(configuredId, generated.Manager.Keys.Current.Id);

        var pair = await generated.Manager.Tokens.CreateAsync("bob", cancellationToken: TestContext.Current.CancellationToken);
        using var header = JsonDocument.Parse(Base64UrlDecode(pair.AccessToken.Split('.')[0]));
        Assert.Equal(configuredId, header.RootElement.GetProperty("kid").GetString());
        using var app = configuredOnly.CreateClient();
        app.AccessToken = pair.AccessToken;
        Assert.Equal("bob", await app.GetStringAsync("/whoami"));

        using var browser = generated.CreateClient();
        await browser.PostAsync("/signin/alice");
        using var elsewhere = configuredOnly.CreateClient();
        elsewhere.Cookie = browser.Cookie;
        Assert.Equal("(anonymous)", await elsewhere.GetStringAsync("/whoami"));
    }

    private const string ApplicationName = "tessera-conformance";

    private static void Rotation(TesseraDataProtectionKeyOptions options)
    {
        options.KeyLifetime = TimeSpan.FromDays(10);
        options.PropagationTime = TimeSpan.FromDays(2);
        options.RetiredKeyRetention = TimeSpan.FromDays(20);
    }

    private static void LongSessions(TesseraOptions options)
    {
        options.IdleTimeout = TimeSpan.FromDays(20);
        options.AbsoluteLifetime = TimeSpan.FromDays(20);
    }

    private static byte[] Base64UrlDecode(string text) => System.Buffers.Text.Base64Url.DecodeFromChars(text);

    private Task<TesseraTestServer> StartAsync(
        ISessionStore store,
        DirectoryInfo dataProtectionKeys,
        Action<TesseraDataProtectionKeyOptions>? keys = null,
        Action<TesseraOptions>? configure = null,
        IEnumerable<string>? tesseraKeys = null,
        FakeLogCollector? logs = null)
    {
        return StartTestServerAsync(store, tesseraKeys ?? [], services =>
        {
            ConfigureServices(services);
            services.AddTessera().UseDataProtectionKeys(keys);
            services.AddDataProtection().SetApplicationName(ApplicationName).PersistKeysToFileSystem(dataProtectionKeys);
            if (logs is not null)
            {
                services.AddSingleton<ILoggerProvider>(new FakeLoggerProvider(logs));
            }
        }, configure, bearerTokens: true);
    }

    // Fault injection: holds the first loads until every expected reader has loaded, so they all see the same state and
    // all try to save; then lets everything through and counts the saves.
    private sealed class RacingKeyRingStore(IKeyRingStore inner, int readers) : IKeyRingStore
    {
        private readonly TaskCompletionSource _allRead = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _reads;
        private int _saves;
        private int _won;

        public int Saves => Volatile.Read(ref _saves);

        public int SavesWon => Volatile.Read(ref _won);

        public async ValueTask<StoredKeyRing?> LoadKeyRingAsync(CancellationToken cancellationToken = default)
        {
            var loaded = await inner.LoadKeyRingAsync(cancellationToken);
            if (Interlocked.Increment(ref _reads) == readers)
            {
                _allRead.TrySetResult();
            }
            await _allRead.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
            return loaded;
        }

        public async ValueTask<bool> TrySaveKeyRingAsync(long expectedVersion, string document, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _saves);
            var saved = await inner.TrySaveKeyRingAsync(expectedVersion, document, cancellationToken);
            if (saved)
            {
                Interlocked.Increment(ref _won);
            }
            return saved;
        }
    }
}
