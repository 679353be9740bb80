using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using Tessera.AspNetCore.DataProtectionKeys;
using Tessera.AspNetCore.Tests.CookieStore;
using Tessera.Testing;

namespace Tessera.AspNetCore.Tests.DataProtectionKeys;

/// <summary>
/// <see cref="FileSystemKeyRingStore"/> on real temporary directories: the store's own promises (round trip,
/// compare-and-swap, a lock that lets one of many concurrent saves win, a clear error for a file that is not a key ring),
/// and, with the encrypted cookie store (which keeps nothing server-side, so the directory is all the instances share),
/// two Kestrel instances that accept each other's cookies.
/// </summary>
public sealed class FileSystemKeyRingStoreTests : HttpConformanceTestBase<CookieStoreKit>
{
    private const string ApplicationName = "tessera-file-key-ring";
    private const string EmptyRing = """{"format":1,"keys":[]}""";

    [Fact]
    public async Task ADirectoryNotYetCreatedHoldsNoKeyRingAndASavedOneLoadsBackWithItsVersionInEveryInstance()
    {
        var directory = new DirectoryInfo(Path.Combine(CreateTemporaryDirectory().FullName, "not", "yet"));
        var store = new FileSystemKeyRingStore(directory);
        var cancellationToken = TestContext.Current.CancellationToken;

        Assert.Null(await store.LoadKeyRingAsync(cancellationToken));
        Assert.True(await store.TrySaveKeyRingAsync(0, EmptyRing, cancellationToken));
        Assert.Equal(new StoredKeyRing(1, EmptyRing), await store.LoadKeyRingAsync(cancellationToken));

        var second = """{"format":1,"keys":[],"note":"second"}""";
        Assert.True(await store.TrySaveKeyRingAsync(1, second, cancellationToken));

        Assert.Equal(new StoredKeyRing(2, second), await new FileSystemKeyRingStore(directory).LoadKeyRingAsync(cancellationToken));
        Assert.Equal(["tessera-key-ring.json", "tessera-key-ring.lock"], directory.GetFiles().Select(f => f.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task ASaveFromAStaleVersionLosesAndLeavesTheWinnersDocument()
    {
        var directory = CreateTemporaryDirectory();
        var first = new FileSystemKeyRingStore(directory);
        var second = new FileSystemKeyRingStore(directory);
        var cancellationToken = TestContext.Current.CancellationToken;
        var winner = """{"format":1,"keys":[],"note":"winner"}""";

        Assert.True(await first.TrySaveKeyRingAsync(0, winner, cancellationToken));
        Assert.False(await second.TrySaveKeyRingAsync(0, EmptyRing, cancellationToken));
        Assert.False(await second.TrySaveKeyRingAsync(2, EmptyRing, cancellationToken));

        Assert.Equal(new StoredKeyRing(1, winner), await second.LoadKeyRingAsync(cancellationToken));
    }

    [Fact]
    public async Task OfManyInstancesSavingAtOnceFromTheSameVersionExactlyOneWins()
    {
        var directory = CreateTemporaryDirectory();
        var cancellationToken = TestContext.Current.CancellationToken;
        var documents = Enumerable.Range(0, 8).Select(i => $$"""{"format":1,"keys":[],"note":"{{i}}"}""").ToList();

        var saved = await Task.WhenAll(documents.Select(d => Task.Run(() => new FileSystemKeyRingStore(directory).TrySaveKeyRingAsync(0, d, cancellationToken).AsTask(), cancellationToken)));

        Assert.Single(saved, s => s);
        var stored = await new FileSystemKeyRingStore(directory).LoadKeyRingAsync(cancellationToken);
        Assert.Equal(documents[Array.IndexOf(saved, true)], stored?.Document);
        Assert.Equal(1, stored?.Version);
    }

    [Fact]
    public async Task TwoInstancesSharingTheDirectoryAndADataProtectionKeyRingAcceptEachOthersCookies()
    {
        var keys = CreateTemporaryDirectory();
        var dataProtection = CreateTemporaryDirectory();
        var first = await StartAsync(keys, dataProtection);
        var second = await StartAsync(keys, dataProtection);
        Assert.Equal(first.Manager.Keys.Current.Id, second.Manager.Keys.Current.Id);

        foreach (var (signedIn, other) in new[] { (first, second), (second, first) })
        {
            using var browser = signedIn.CreateClient();
            await browser.PostAsync("/signin/alice");
            await browser.PostAsync("/set/cart/apple");
            using var elsewhere = other.CreateClient();
            elsewhere.RestoreCookies(browser.SaveCookies());
            Assert.Equal("alice", await elsewhere.GetStringAsync("/whoami"));
            Assert.Equal("apple", await elsewhere.GetStringAsync("/read/cart"));
        }

        // The file holds the key only as a Data Protection payload (magic header 09 F0 C9 F0), never in the clear.
        var stored = await new FileSystemKeyRingStore(keys).LoadKeyRingAsync(TestContext.Current.CancellationToken);
        using var document = JsonDocument.Parse(stored!.Document);
        var key = Assert.Single(document.RootElement.GetProperty("keys").EnumerateArray());
        Assert.Equal(first.Manager.Keys.Current.Id, key.GetProperty("id").GetString());
        Assert.Equal(new byte[] { 0x09, 0xF0, 0xC9, 0xF0 }, Convert.FromBase64String(key.GetProperty("material").GetString()!)[..4]);
    }

    [Fact]
    public async Task AKeyRingFileThatIsNotOneIsAClearErrorThatNamesThePathAndShowsNoKeyMaterial()
    {
        var keys = CreateTemporaryDirectory();
        var dataProtection = CreateTemporaryDirectory();
        await StartAsync(keys, dataProtection);
        var path = Path.Combine(keys.FullName, "tessera-key-ring.json");
        var good = await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken);
        var material = JsonDocument.Parse(JsonDocument.Parse(good).RootElement.GetProperty("document").GetString()!)
            .RootElement.GetProperty("keys")[0].GetProperty("material").GetString()!;
        var corruptions = new[]
        {
            good[..^30],   // truncated inside the protected key, as by a full disk
            string.Empty,
            "null",
            """{"version":0,"document":null}""",
            """{"version":3,"document":"not a key ring"}""",
            """{"version":3,"document":"{\"format\":1}"}""",
        };

        foreach (var corrupt in corruptions)
        {
            await File.WriteAllTextAsync(path, corrupt, TestContext.Current.CancellationToken);

            var loading = await Assert.ThrowsAsync<InvalidOperationException>(async () => await new FileSystemKeyRingStore(keys).LoadKeyRingAsync(TestContext.Current.CancellationToken));
            var saving = await Assert.ThrowsAsync<InvalidOperationException>(async () => await new FileSystemKeyRingStore(keys).TrySaveKeyRingAsync(0, EmptyRing, TestContext.Current.CancellationToken));
            var starting = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync(keys, dataProtection));

            foreach (var error in new[] { loading, saving, starting })
            {
                Assert.Contains($"key ring file {path} cannot be read", error.Message, StringComparison.Ordinal);
                Assert.DoesNotContain(material[..12], error.ToString(), StringComparison.Ordinal);
                Assert.Null(error.InnerException);
            }
            // Nothing was written over the broken file: restoring it is still possible.
            Assert.Equal(corrupt, await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken));
        }
    }

    // An instance on the encrypted cookie store without Tessera:Keys: its keys come only from the key ring directory.
    private Task<TesseraTestServer> StartAsync(DirectoryInfo keys, DirectoryInfo dataProtection) =>
        StartTestServerAsync(Store, [], services =>
        {
            ConfigureServices(services);
            services.AddTessera().UseDataProtectionKeys(o => o.Store = _ => new FileSystemKeyRingStore(keys));
            services.AddDataProtection().SetApplicationName(ApplicationName).PersistKeysToFileSystem(dataProtection);
        });
}
