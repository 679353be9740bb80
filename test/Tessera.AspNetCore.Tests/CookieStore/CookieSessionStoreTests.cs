using Microsoft.Extensions.Logging.Testing;
using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tessera.AspNetCore.CookieStore;
using Tessera.Testing;

namespace Tessera.AspNetCore.Tests.CookieStore;

/// <summary>
/// The cookie store's own promises, on a real Kestrel server and a real HTTP client: chunking within the browser's
/// 4,096-byte limit computed from the real attributes, stale chunks deleted, a bound with a 413 that writes nothing,
/// chunk sets that do not belong together read as no session, key rotation, and the revocation list's housekeeping.
/// </summary>
public sealed class CookieSessionStoreTests : HttpConformanceTestBase<CookieStoreKit>
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private Action<IServiceCollection>? _services;

    protected override void ConfigureServices(IServiceCollection services)
    {
        base.ConfigureServices(services); // the kit's: the HttpContext accessor the cookie store needs
        _services?.Invoke(services);
    }

    [Fact]
    public async Task ASessionLargerThanOneCookieIsSplitIntoChunksThatEachFillTheBrowsersLimitAndReadBackEqual()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();

        using var response = await client.SendAsync(HttpMethod.Post, "/fill/big/9000", new ByteArrayContent([]));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var value = await response.Content.ReadAsStringAsync();
        var chunks = ChunkHeaders(response, client.CookieName);
        Assert.InRange(chunks.Count, 3, 4);
        Assert.Equal(Enumerable.Range(0, chunks.Count).Select(i => $"{client.CookieName}.{i}"), chunks.Select(NameOf));
        // The room is computed from the real attributes: every chunk but the last fills the limit exactly.
        Assert.All(chunks[..^1], h => Assert.Equal(4096, h.Length));
        Assert.InRange(chunks[^1].Length, 1, 4096);
        Assert.All(chunks, h => AssertAttributes(h, "; secure", "; httponly", "; samesite=lax", "; path=/"));
        Assert.Contains("no-store", response.Headers.CacheControl?.ToString() ?? string.Empty, StringComparison.Ordinal);
        Assert.Equal(chunks.Count, client.Companions.Count);

        Assert.Equal(value, await client.GetStringAsync("/read/big"));
    }

    [Fact]
    public async Task PersistentChunksCarryTheSessionCookiesExpiryAndStillFit()
    {
        _services = services => services.Configure<TesseraCookieOptions>(o =>
        {
            o.Name = "sid";
            o.Domain = "shop.example.test";
            o.Path = "/";
            o.Persistent = true;
        });
        var server = await StartAsync();
        using var client = server.CreateClient();

        using var response = await client.SendAsync(HttpMethod.Post, "/fill/big/9000", new ByteArrayContent([]));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var expires = Attribute(client.LastSetCookie!, "expires");
        Assert.NotNull(expires);
        var chunks = ChunkHeaders(response, "sid");
        Assert.True(chunks.Count >= 3, $"{chunks.Count} chunks");
        Assert.All(chunks[..^1], h => Assert.Equal(4096, h.Length));
        Assert.All(chunks, h => Assert.Equal(expires, Attribute(h, "expires")));
        Assert.All(chunks, h => AssertAttributes(h, "; domain=shop.example.test", "; secure", "; httponly"));
        Assert.Equal(await response.Content.ReadAsStringAsync(), await client.GetStringAsync("/read/big"));
    }

    [Fact]
    public async Task ShrinkingTheSessionDeletesTheChunksItNoLongerNeeds()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/small/kept");
        await client.PostAsync("/fill/big/9000");
        var before = client.Companions.Count;
        Assert.True(before >= 3, $"{before} chunks");

        using var response = await client.SendAsync(HttpMethod.Post, "/remove/big", new ByteArrayContent([]));

        var chunks = ChunkHeaders(response, client.CookieName);
        Assert.StartsWith(client.CookieName + ".0=", chunks[0], StringComparison.Ordinal);
        var deletions = chunks.Skip(1).ToList();
        Assert.Equal(Enumerable.Range(1, before - 1).Select(i => $"{client.CookieName}.{i}"), deletions.Select(NameOf));
        // A browser drops a __Host- deletion that lacks the cookie's own attributes.
        Assert.All(deletions, h => AssertAttributes(h, "=;", "expires=thu, 01 jan 1970", "; secure", "; path=/", "; samesite=lax", "; httponly"));
        Assert.Single(client.Companions);
        Assert.Equal("kept", await client.GetStringAsync("/read/small"));
        Assert.Equal("(none)", await client.GetStringAsync("/read/big"));
    }

    [Fact]
    public async Task ASessionThatWouldNeedMoreCookiesThanItsBoundGetsA413AndNothingIsWritten()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/small/kept");
        var cookies = client.SaveCookies();

        using var response = await client.SendAsync(HttpMethod.Post, "/fill/big/20000", new ByteArrayContent([]));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.False(response.Headers.Contains("Set-Cookie"));
        using (var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()))
        {
            Assert.Equal("session_data_too_large", problem.RootElement.GetProperty("reason").GetString());
        }
        Assert.Equal(cookies.OrderBy(c => c.Key, StringComparer.Ordinal), client.SaveCookies().OrderBy(c => c.Key, StringComparer.Ordinal));
        Assert.Equal("kept", await client.GetStringAsync("/read/small"));
        Assert.Equal("(none)", await client.GetStringAsync("/read/big"));
    }

    [Fact]
    public async Task ALowerBoundRefusesSoonerAndLoweringItSignsNobodyOut()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/fill/big/6000");

        var strict = await StartTestServerAsync(new CookieSessionStore(new HttpContextAccessor(), new CookieSessionStoreOptions { MaxChunks = 1 }, Clock), null, MapRoutes);
        using var viaStrict = strict.CreateClient();
        viaStrict.RestoreCookies(client.SaveCookies());

        Assert.Equal(6000, (await viaStrict.GetStringAsync("/read/big")).Length);
        using var response = await viaStrict.SendAsync(HttpMethod.Post, "/set/more/x", new ByteArrayContent([]));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        await viaStrict.PostAsync("/remove/big");
        Assert.Single(viaStrict.Companions);
        Assert.Equal("(none)", await viaStrict.GetStringAsync("/read/big"));
    }

    [Theory]
    [InlineData("flipped")]
    [InlineData("missing-middle")]
    [InlineData("missing-first")]
    [InlineData("swapped")]
    [InlineData("mixed-generations")]
    [InlineData("other-credential")]
    [InlineData("sent-twice-differently")]
    [InlineData("not-base64url")]
    public async Task ChunksThatDoNotBelongTogetherAreNoSession(string kind)
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/signin/alice");
        await client.PostAsync("/fill/big/9000");
        var first = client.SaveCookies();
        await client.PostAsync("/fill/big/9000");
        var second = client.SaveCookies();
        using var other = server.CreateClient();
        await other.PostAsync("/signin/bob");
        await other.PostAsync("/fill/big/9000");
        var name = client.CookieName;
        var cookies = new Dictionary<string, string>(second, StringComparer.Ordinal);
        switch (kind)
        {
            case "flipped":
                var chunk = cookies[name + ".1"].ToCharArray();
                chunk[100] = chunk[100] == 'A' ? 'B' : 'A';
                cookies[name + ".1"] = new string(chunk);
                break;
            case "missing-middle":
                cookies.Remove(name + ".1");
                break;
            case "missing-first":
                cookies.Remove(name + ".0");
                break;
            case "swapped":
                (cookies[name + ".0"], cookies[name + ".1"]) = (cookies[name + ".1"], cookies[name + ".0"]);
                break;
            case "mixed-generations":
                cookies[name + ".1"] = first[name + ".1"];
                break;
            case "other-credential":
                cookies[name] = other.Cookie!;
                break;
            case "not-base64url":
                cookies[name + ".0"] = "*" + cookies[name + ".0"][1..];
                break;
            case "sent-twice-differently":
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind));
        }
        var header = string.Join("; ", cookies.Select(c => $"{c.Key}={c.Value}"));
        if (kind == "sent-twice-differently")
        {
            header += $"; {name}.0={first[name + ".0"]}";
        }

        using var response = await client.SendAsync(HttpMethod.Get, "/whoami", cookieHeader: header);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("(anonymous)", await response.Content.ReadAsStringAsync());
        Assert.DoesNotContain(server.Logs.GetSnapshot(), e => e.Level >= LogLevel.Error);
        // The untouched cookies still work, and so do the other client's.
        using var intact = await client.SendAsync(HttpMethod.Get, "/whoami", cookieHeader: string.Join("; ", second.Select(c => $"{c.Key}={c.Value}")));
        Assert.Equal("alice", await intact.Content.ReadAsStringAsync());
        Assert.Equal("bob", await other.GetStringAsync("/whoami"));
    }

    [Fact]
    public async Task MutatedChunkSetsMeanNoSessionOrTheirOwnAndNeverAnError()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/signin/alice");
        await client.PostAsync("/fill/big/9000");
        var valid = client.SaveCookies();
        var name = client.CookieName;
        var chunkNames = valid.Keys.Where(k => k != name).Order(StringComparer.Ordinal).ToArray();
        var seed = Environment.TickCount;
        var random = new Random(seed);
        var anonymous = 0;

        for (var i = 0; i < 300; i++)
        {
            var cookies = new Dictionary<string, string>(valid, StringComparer.Ordinal);
            var target = chunkNames[random.Next(chunkNames.Length)];
            var chunk = cookies[target];
            var at = random.Next(chunk.Length);
            switch (random.Next(6))
            {
                case 0:
                    cookies[target] = chunk[..at] + (chunk[at] == 'x' ? 'y' : 'x') + chunk[(at + 1)..];
                    break;
                case 1:
                    cookies[target] = chunk.Remove(at, 1);
                    break;
                case 2:
                    cookies[target] = chunk.Insert(at, Alphabet[random.Next(Alphabet.Length)].ToString());
                    break;
                case 3:
                    cookies[target] = chunk[..at];
                    break;
                case 4:
                    cookies.Remove(target);
                    break;
                default:
                    cookies[target] = cookies[chunkNames[(Array.IndexOf(chunkNames, target) + 1) % chunkNames.Length]];
                    break;
            }
            var header = string.Join("; ", cookies.Where(c => c.Value.Length > 0).Select(c => $"{c.Key}={c.Value}"));
            using var response = await client.SendAsync(HttpMethod.Get, "/whoami", cookieHeader: header);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK && body is "(anonymous)" or "alice", $"seed {seed}, mutation {i}: {(int)response.StatusCode} {body}");
            anonymous += body == "(anonymous)" ? 1 : 0;
        }

        // A change to the unused low bits of the very last character can leave the bytes (and the session) as they were;
        // nothing else can.
        Assert.True(anonymous >= 290, $"seed {seed}: only {anonymous} of 300 mutations lost the session");
        Assert.DoesNotContain(server.Logs.GetSnapshot(), e => e.Level >= LogLevel.Error);
    }

    [Fact]
    public async Task ARotatedKeyRingKeepsEveryoneSignedInAndTheNextWriteMovesTheSessionToTheNewKey()
    {
        var oldKey = Key;
        var newKey = SigningKeyRing.GenerateBase64Key();
        var before = await StartAsync([oldKey]);
        using var client = before.CreateClient();
        await client.PostAsync("/signin/alice");
        var oldKeyId = KeyId(client);

        var rotated = await StartAsync([newKey, oldKey]);
        using var viaRotated = rotated.CreateClient();
        viaRotated.RestoreCookies(client.SaveCookies());
        Assert.Equal("alice", await viaRotated.GetStringAsync("/whoami"));
        Assert.Equal(oldKeyId, KeyId(viaRotated));
        await viaRotated.PostAsync("/set/a/1");

        using var fresh = (await StartAsync([newKey])).CreateClient();
        await fresh.PostAsync("/set/a/1");
        Assert.NotEqual(oldKeyId, KeyId(viaRotated));
        Assert.Equal(KeyId(fresh), KeyId(viaRotated));
        Assert.Equal("alice", await viaRotated.GetStringAsync("/whoami"));
        Assert.Equal("1", await viaRotated.GetStringAsync("/read/a"));
    }

    [Fact]
    public async Task OutsideARequestTheStoreRefusesClearly()
    {
        var store = new CookieSessionStore(new HttpContextAccessor(), timeProvider: Clock);
        var now = Clock.GetUtcNow();
        var record = new SessionRecord { Id = Guid.NewGuid().ToString("D"), CredentialHash = RandomNumberGenerator.GetBytes(32), CreatedAt = now, LastSeenAt = now, IdleExpiresAt = now.AddMinutes(30), AbsoluteExpiresAt = now.AddHours(8) };

        var create = await Assert.ThrowsAsync<InvalidOperationException>(() => store.CreateAsync(record).AsTask());
        Assert.Contains("only during an HTTP request", create.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.LoadByCredentialAsync(record.CredentialHash).AsTask());
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.RevokeAsync(record.Id, now).AsTask());
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.TouchAsync(record.Id, now, now).AsTask());
        // Loading by id finds nothing (no cookies to look in), so the health check's probe passes.
        Assert.Null(await store.LoadAsync(record.Id));
        var health = await new TesseraStoreHealthCheck(store, TesseraStoreHealthCheck.DefaultTimeout).CheckHealthAsync(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext());
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, health.Status);
    }

    [Fact]
    public async Task OutsideARequestTheHealthProbeReachesTheRevocationStore()
    {
        var revocations = new FaultySessionStore(new InMemorySessionStore(Clock));
        var store = new CookieSessionStore(new HttpContextAccessor(), new CookieSessionStoreOptions { RevocationStore = revocations }, Clock);
        var check = new TesseraStoreHealthCheck(store, TesseraStoreHealthCheck.DefaultTimeout);
        var context = new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext
        {
            Registration = new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckRegistration("tessera", check, Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Unhealthy, null),
        };
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, (await check.CheckHealthAsync(context)).Status);

        revocations.Failure = () => new InvalidOperationException("revocation store down");

        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Unhealthy, (await check.CheckHealthAsync(context)).Status);
    }

    [Fact]
    public async Task RevocationEntriesDoNotCountAgainstTheRevocationStoresAnonymousBound()
    {
        // A bound of one anonymous record: were the entries anonymous, each new one would evict the one before.
        var revocations = new InMemorySessionStore(Clock, new InMemorySessionStoreOptions { MaxAnonymousSessions = 1 });
        var store = new CookieSessionStore(new HttpContextAccessor(), new CookieSessionStoreOptions { RevocationStore = revocations }, Clock);
        var server = await StartTestServerAsync(store, null, MapRoutes);
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            using var client = server.CreateClient();
            await client.PostAsync("/set/cart/apple");
            ids.Add(await client.GetStringAsync("/id"));
        }

        Assert.Equal(3, await revocations.CountAsync());
        foreach (var id in ids)
        {
            Assert.Equal("tessera:cookie-store", (await revocations.LoadAsync(id))?.Subject);
        }
    }

    [Fact]
    public async Task TheRevocationListKeepsAnEntryUntilTheSessionsAbsoluteExpiryAndCleanupThenRemovesIt()
    {
        var revocations = new InMemorySessionStore(Clock);
        var store = new CookieSessionStore(new HttpContextAccessor(), new CookieSessionStoreOptions { RevocationStore = revocations }, Clock);
        var server = await StartTestServerAsync(store, null, MapRoutes);
        using var client = server.CreateClient();
        await client.PostAsync("/signin/alice");
        var id = await client.GetStringAsync("/id");
        Clock.Advance(TimeSpan.FromMinutes(20));
        await client.PostAsync("/regenerate");
        Assert.Equal(1, await revocations.CountAsync());

        Assert.True(await server.Manager.RevokeAsync(id));
        Assert.False(await server.Manager.RevokeAsync(id));
        Assert.True(await server.Manager.RevokeAsync(Guid.NewGuid().ToString("D")));
        Assert.Equal(2, await revocations.CountAsync());
        ISessionStoreCleanup cleanup = store;

        // The known session's entry ends with it, 8 hours after sign-in; the unknown one's 8 hours after its revocation.
        Clock.Advance(TesseraDefaults.AbsoluteLifetime - TimeSpan.FromMinutes(20));
        Assert.Equal(1, await cleanup.DeleteExpiredAsync(100));
        Clock.Advance(TimeSpan.FromMinutes(20));
        Assert.Equal(1, await cleanup.DeleteExpiredAsync(100));
        Assert.Equal(0, await revocations.CountAsync());
    }

    [Fact]
    public async Task WithoutARevocationStoreACopyOfTheCookiesOutlivesSignOutUntilItExpires()
    {
        // The documented limit of a stateless store, checked so the documentation cannot drift from the code.
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/signin/alice");
        using var copy = server.CreateClient();
        copy.RestoreCookies(client.SaveCookies());

        await client.PostAsync("/destroy");

        Assert.Equal("(anonymous)", await client.GetStringAsync("/whoami"));
        Assert.Equal("alice", await copy.GetStringAsync("/whoami"));
        Clock.Advance(TesseraDefaults.IdleTimeout + TimeSpan.FromSeconds(1));
        Assert.Equal("(anonymous)", await copy.GetStringAsync("/whoami"));
    }

    [Fact]
    public void UseCookieStoreIsOneLineOfConfiguration()
    {
        var services = new ServiceCollection().AddLogging().AddSingleton<Microsoft.Extensions.Configuration.IConfiguration>(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build());
        services.AddTessera(o => o.Keys.Add(Key)).UseCookieStore(o => o.MaxChunks = 2);
        using var provider = services.BuildServiceProvider();

        var store = Assert.IsType<CookieSessionStore>(provider.GetRequiredService<ISessionStore>());
        Assert.Equal(2, store.MaxChunks);
        Assert.Null(store.RevocationStore);
        Assert.NotNull(provider.GetService<IHttpContextAccessor>());
        Assert.Throws<ArgumentOutOfRangeException>(() => new ServiceCollection().AddTessera().UseCookieStore(o => o.MaxChunks = 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ServiceCollection().AddTessera().UseCookieStore(o => o.MaxChunks = CookieSessionStoreOptions.MaxMaxChunks + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ServiceCollection().AddTessera().UseCookieStore(o => o.ReplacedCookieGraceWindow = TimeSpan.FromMilliseconds(-1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ServiceCollection().AddTessera().UseCookieStore(o => o.ReplacedCookieGraceWindow = CookieSessionStoreOptions.MaxReplacedCookieGraceWindow + TimeSpan.FromTicks(1)));
    }

    [Fact]
    public async Task CookiesWrittenBeforeARevocationStoreWasAddedStillLoadAndAreReplacedByTheNextWrite()
    {
        var stateless = await StartAsync();
        using var client = stateless.CreateClient();
        await client.PostAsync("/signin/alice");
        await client.PostAsync("/set/coupon/unused");
        var unversioned = client.SaveCookies();

        var revocations = new InMemorySessionStore(Clock);
        var withList = await StartTestServerAsync(new CookieSessionStore(new HttpContextAccessor(), new CookieSessionStoreOptions { RevocationStore = revocations }, Clock), null, MapRoutes);
        using var upgraded = withList.CreateClient();
        upgraded.RestoreCookies(unversioned);
        Assert.Equal("alice", await upgraded.GetStringAsync("/whoami"));
        await upgraded.PostAsync("/set/coupon/used");
        Clock.Advance(CookieSessionStoreDefaults.ReplacedCookieGraceWindow);

        using var replay = withList.CreateClient();
        replay.RestoreCookies(unversioned);
        Assert.Equal("(anonymous)", await replay.GetStringAsync("/whoami"));
        Assert.Equal("(none)", await replay.GetStringAsync("/read/coupon"));
        Assert.Equal("used", await upgraded.GetStringAsync("/read/coupon"));
    }

    [Fact]
    public async Task WithoutARevocationStoreSavedCookiesRestoreTheEarlierStateOfTheSession()
    {
        // The documented limit of a stateless store (docs/stores.md: "A client can roll its session back").
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/coupon/unused");
        var saved = client.SaveCookies();
        await client.PostAsync("/set/coupon/used");
        Clock.Advance(TimeSpan.FromMinutes(10));

        client.RestoreCookies(saved);

        Assert.Equal("unused", await client.GetStringAsync("/read/coupon"));
    }

    private Task<TesseraTestServer> StartAsync(IEnumerable<string>? keys = null) =>
        keys is null
            ? StartTestServerAsync(Store, null, MapRoutes)
            : StartTestServerAsync(Store, o =>
            {
                o.Keys.Clear();
                foreach (var key in keys)
                {
                    o.Keys.Add(key);
                }
            }, MapRoutes);

    private static void MapRoutes(WebApplication app) =>
        app.MapPost("/fill/{key}/{length:int}", (HttpSession session, string key, int length) =>
        {
            // Random text: the cookie store does not compress, but a test should not depend on that.
            var value = RandomNumberGenerator.GetString(Alphabet, length);
            session.Set(key, value);
            return value;
        });

    private static List<string> ChunkHeaders(HttpResponseMessage response, string cookieName) =>
        response.Headers.TryGetValues("Set-Cookie", out var values)
            ? [.. values.Where(v => v.StartsWith(cookieName + ".", StringComparison.Ordinal))]
            : [];

    private static string NameOf(string setCookie) => setCookie[..setCookie.IndexOf('=', StringComparison.Ordinal)];

    private static string? Attribute(string setCookie, string name) =>
        setCookie.Split(';').Select(p => p.Trim()).FirstOrDefault(p => p.StartsWith(name + "=", StringComparison.OrdinalIgnoreCase))?[(name.Length + 1)..];

    private static void AssertAttributes(string setCookie, params string[] expected)
    {
        var lower = setCookie.ToLowerInvariant();
        foreach (var part in expected)
        {
            Assert.Contains(part, lower, StringComparison.Ordinal);
        }
    }

    // The key id of the sealed session the client holds: bytes 1 to 4 of the joined chunks.
    private static string KeyId(CookieClient client)
    {
        var text = string.Concat(Enumerable.Range(0, client.Companions.Count).Select(i => client.Companions[$"{client.CookieName}.{i}"]));
        return Convert.ToHexString(Base64Url.DecodeFromChars(text).AsSpan(1, 4));
    }
}
