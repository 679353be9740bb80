using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace Tessera.Demo.Tests;

/// <summary>
/// Three demo-app processes behind an imaginary load balancer: one shared store, one signing key, no sticky sessions.
/// Started once per test class (each instance also runs the store's start-up migrations, all at once, against the
/// same fresh database) and killed at the end, by process id, whatever happened.
/// </summary>
public abstract class DemoFleet : IAsyncLifetime
{
    public const int Size = 3;

    /// <summary>
    /// How long after a rotation a retried refresh token still gets the same pair, on every instance. These are separate
    /// processes on real time, so the window must hold a rotation and its retry on a loaded 2-core machine (at 2 s, a
    /// retry under a load average of 30 arrived after it); the test waits it out once, so longer costs seconds, not flakes.
    /// </summary>
    public static readonly TimeSpan ReuseGraceWindow = TimeSpan.FromSeconds(6);

    private readonly List<DemoProcess> _instances = [];
    private TempDirectory? _data;

    /// <summary>The running instances: A, B, C.</summary>
    internal IReadOnlyList<DemoProcess> Instances => _instances;

    /// <summary>The store name the demo takes (<c>Tessera:Store</c>).</summary>
    protected abstract string Store { get; }

    /// <summary>Whether the instances run the near cache (<c>Tessera:NearCache:Enabled</c>).</summary>
    protected virtual bool NearCache => false;

    /// <summary>
    /// The near cache's staleness bound in this fleet: 30 seconds, far above <see cref="PropagationBound"/>, so a change
    /// seen in time on another instance was carried by the invalidation channel, not by the staleness net.
    /// </summary>
    public static readonly TimeSpan NearCacheMaxStaleness = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a change made on one instance may take to be seen on the others: zero without a near cache (the very
    /// next request reads the store), and the bound docs/near-cache.md states (2 seconds) with one.
    /// </summary>
    public TimeSpan PropagationBound => NearCache ? TimeSpan.FromSeconds(2) : TimeSpan.Zero;

    /// <summary>Prepares a store of the fleet's own and returns the demo arguments that point at it.</summary>
    protected abstract Task<string[]> PrepareStoreAsync();

    /// <summary>Removes what <see cref="PrepareStoreAsync"/> made, after every instance is gone.</summary>
    protected abstract Task CleanUpStoreAsync();

    public async ValueTask InitializeAsync()
    {
        try
        {
            await StartAsync();
        }
        catch
        {
            // Nothing is left running when the fleet cannot start.
            await DisposeAsync();
            throw;
        }
    }

    private async Task StartAsync()
    {
        _data = new TempDirectory();
        var storeArguments = await PrepareStoreAsync();
        // Every instance needs the same signing keys in the same order; here, one.
        var key = SigningKeyRing.GenerateBase64Key();
        string[] arguments =
        [
            "--environment", "Production",
            $"--Tessera:Store={Store}",
            $"--Tessera:Keys:0={key}",
            $"--Tessera:Tokens:ReuseGraceWindow={ReuseGraceWindow:c}",
            $"--Demo:DataDirectory={_data.Path}",
            $"--Tessera:NearCache:Enabled={(NearCache ? "true" : "false")}",
            $"--Tessera:NearCache:MaxStalenessSeconds={NearCacheMaxStaleness.TotalSeconds}",
            // The start-up line and the near cache's "listening" line, which a test looks for.
            "--Logging:LogLevel:Tessera.Demo=Information",
            "--Logging:LogLevel:Tessera.NearCache=Information",
            .. storeArguments,
        ];
        var starting = Enumerable.Range(0, Size)
            .Select(i => DemoProcess.StartAsync(((char)('A' + i)).ToString(), arguments, TimeSpan.FromSeconds(60)))
            .ToList();
        try
        {
            await Task.WhenAll(starting);
        }
        finally
        {
            // Keep whatever started, so DisposeAsync (or the failure below) stops it.
            _instances.AddRange(starting.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result));
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var instance in _instances)
        {
            await instance.DisposeAsync();
        }
        _instances.Clear();
        await CleanUpStoreAsync();
        _data?.Dispose();
        _data = null;
    }
}

/// <summary>Three demo processes on one fresh PostgreSQL database.</summary>
public class PostgresFleet : DemoFleet
{
    private string? _connectionString;

    protected override string Store => "postgres";

    protected override async Task<string[]> PrepareStoreAsync()
    {
        // Ten connections per instance: the 100 concurrent requests queue for them instead of exhausting the server.
        _connectionString = await TestPostgres.CreateDatabaseAsync("fleet", maxPoolSize: 10);
        return [$"--ConnectionStrings:Postgres={_connectionString}"];
    }

    protected override async Task CleanUpStoreAsync()
    {
        if (_connectionString is not null)
        {
            await TestPostgres.DropDatabaseAsync(_connectionString);
            _connectionString = null;
        }
    }
}

/// <summary>Three demo processes on one Redis, under a key prefix of their own.</summary>
public class RedisFleet : DemoFleet
{
    protected override string Store => "redis";

    protected override Task<string[]> PrepareStoreAsync() => Task.FromResult(TestRedis.Arguments(NearCache ? "fleet-near" : "fleet"));

    // The keys expire by themselves (their time to live is the session's remaining lifetime plus a margin), and the
    // server test.sh starts is thrown away at the end.
    protected override Task CleanUpStoreAsync() => Task.CompletedTask;
}

/// <summary>Three demo processes on one PostgreSQL database, each with the near cache (LISTEN/NOTIFY).</summary>
public sealed class PostgresNearCacheFleet : PostgresFleet
{
    protected override bool NearCache => true;
}

/// <summary>Three demo processes on one Redis, each with the near cache (pub/sub).</summary>
public sealed class RedisNearCacheFleet : RedisFleet
{
    protected override bool NearCache => true;
}

/// <summary>
/// Sessions shared by several app instances through the store: whichever instance a request lands on sees the same
/// session, a sign-out anywhere holds everywhere at once, and concurrent per-key changes on different instances all
/// survive. The same tests run for every shared store.
/// </summary>
public abstract class MultiInstanceTests(DemoFleet fleet)
{
    private DemoProcess A => fleet.Instances[0];

    private DemoProcess B => fleet.Instances[1];

    private DemoProcess C => fleet.Instances[2];

    [Fact]
    public async Task EveryInstanceRunsTheNearCacheExactlyWhenTheFleetAsksForIt()
    {
        foreach (var instance in fleet.Instances)
        {
            // Event 1013 is logged once the invalidation channel listens; the start-up line names the near cache.
            await Eventually(() =>
            {
                Assert.Equal(fleet.PropagationBound > TimeSpan.Zero, instance.Output.Contains("near cache is listening", StringComparison.Ordinal));
                return Task.CompletedTask;
            });
            Assert.Equal(fleet.PropagationBound > TimeSpan.Zero, instance.Output.Contains("with the near cache", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task ASessionCreatedOnOneInstanceIsReadAndChangedOnTheOthers()
    {
        using var client = new DemoClient(A.BaseAddress);
        await client.JsonAsync(HttpMethod.Post, A.Url("/cart"), new { item = "apple" });
        var anonymousCookies = new Dictionary<string, string>(client.Cookies);

        // Signing in on B regenerates the credential of the session A created and keeps its cart.
        var login = await client.JsonAsync(HttpMethod.Post, B.Url("/login"), new { user = "alice" });
        Assert.Equal("alice", login.GetProperty("user").GetString());
        Assert.Equal("alice", (await client.JsonAsync(HttpMethod.Get, C.Url("/me"))).GetProperty("user").GetString());
        Assert.Equal(["apple"], Items(await client.JsonAsync(HttpMethod.Get, C.Url("/cart")), "items"));

        // The pre-login cookie is dead on every instance, not only on B.
        using (var planted = new DemoClient(A.BaseAddress))
        {
            foreach (var (name, value) in anonymousCookies)
            {
                planted.Cookies[name] = value;
            }
            foreach (var instance in fleet.Instances)
            {
                await AssertStatusAsync(planted, instance.Url("/me"), HttpStatusCode.Unauthorized, instance);
            }
        }

        // A change made on C is seen on A; a flash set on A is read once, on B, and is gone on C.
        await client.JsonAsync(HttpMethod.Post, C.Url("/cart"), new { item = "pear" });
        await Eventually(async () => Assert.Equal(["apple", "pear"], Items(await client.JsonAsync(HttpMethod.Get, A.Url("/cart")), "items")));
        await client.JsonAsync(HttpMethod.Post, A.Url("/flash"), new { message = "saved" });
        await Eventually(async () => Assert.Equal(["saved"], Items(await client.JsonAsync(HttpMethod.Get, B.Url("/flash")), "messages")));
        await Eventually(async () => Assert.Empty(Items(await client.JsonAsync(HttpMethod.Get, C.Url("/flash")), "messages")));
    }

    [Fact]
    public async Task SigningOutOnOneInstanceIsRefusedOnEveryInstanceAtOnce()
    {
        using var client = new DemoClient(A.BaseAddress);
        await client.JsonAsync(HttpMethod.Post, A.Url("/login"), new { user = "bob" });
        await client.JsonAsync(HttpMethod.Post, A.Url("/counter/visits"));
        using var copy = new DemoClient(A.BaseAddress);
        foreach (var (name, value) in client.Cookies)
        {
            copy.Cookies[name] = value;
        }
        foreach (var instance in fleet.Instances)
        {
            Assert.Equal("bob", (await copy.JsonAsync(HttpMethod.Get, instance.Url("/me"))).GetProperty("user").GetString());
        }

        using (var logout = await client.PostAsync(B.Url("/logout")))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }

        // Without a near cache the very next request anywhere reads the revocation from the store; with one, every
        // instance had the session in memory, and the revocation must reach each within the propagation bound.
        foreach (var instance in fleet.Instances)
        {
            await Eventually(() => AssertStatusAsync(copy, instance.Url("/me"), HttpStatusCode.Unauthorized, instance));
            Assert.Empty((await copy.JsonAsync(HttpMethod.Get, instance.Url("/counters"))).EnumerateObject());
        }
    }

    /// <summary>
    /// A hub connection held by instance B closes, told why, when the session signs out on instance C. The demo
    /// re-validates watched sessions every 30 seconds; the 10-second guard is far below that, so the close was carried by
    /// the store's invalidation channel (Redis pub/sub, PostgreSQL LISTEN/NOTIFY), with or without the near cache.
    /// </summary>
    [Fact]
    public async Task SigningOutOnOneInstanceClosesTheHubConnectionHeldByAnother()
    {
        using var client = new DemoClient(A.BaseAddress);
        await client.JsonAsync(HttpMethod.Post, A.Url("/login"), new { user = "erin" });
        var cookieHeader = string.Join("; ", client.Cookies.Select(c => $"{c.Key}={c.Value}"));
        await using var hub = await Tessera.Testing.HubClient.ConnectAsync(B.BaseAddress, cookieHeader, path: "/hubs/session", greeting: "user");
        Assert.True(hub.IsConnected);

        using (var logout = await client.PostAsync(C.Url("/logout")))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }

        Assert.Equal("sign_out", await hub.WaitForSessionEndAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task AHundredConcurrentRequestsAcrossInstancesEachSettingAnotherKeyLeaveAllHundredKeys()
    {
        using var client = new DemoClient(A.BaseAddress);
        await client.JsonAsync(HttpMethod.Post, A.Url("/login"), new { user = "carol" });
        var cookieHeader = string.Join("; ", client.Cookies.Select(c => $"{c.Key}={c.Value}"));

        // One HttpClient (thread-safe; the test's DemoClient jar is not), the session's cookie on every request.
        using var http = new HttpClient(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false });
        var requests = Enumerable.Range(0, 100).Select(async i =>
        {
            var instance = fleet.Instances[i % DemoFleet.Size];
            using var request = new HttpRequestMessage(HttpMethod.Post, instance.Url($"/counter/k{i:D3}"));
            request.Headers.TryAddWithoutValidation("Cookie", cookieHeader);
            using var response = await http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, $"POST /counter/k{i:D3} on {instance.Name}: {(int)response.StatusCode} {body}");
            Assert.False(response.Headers.Contains("Set-Cookie"), $"POST /counter/k{i:D3} on {instance.Name} set a cookie");
        }).ToList();
        await Task.WhenAll(requests);

        foreach (var instance in fleet.Instances)
        {
            await Eventually(async () =>
            {
                var counters = await client.JsonAsync(HttpMethod.Get, instance.Url("/counters"));
                var names = counters.EnumerateObject().Select(p => p.Name).ToList();
                Assert.True(names.Count == 100, $"{instance.Name} sees {names.Count} counters, expected 100; missing: "
                    + string.Join(", ", Enumerable.Range(0, 100).Select(i => $"k{i:D3}").Except(names)));
                Assert.All(counters.EnumerateObject(), p => Assert.Equal(1, p.Value.GetInt64()));
            });
        }
    }

    [Fact]
    public async Task TokenSessionsSignInOnOneRefreshOnAnotherAndAreUsedOnAThird()
    {
        using var client = new DemoClient(A.BaseAddress);
        var first = await PairAsync(client, A.Url("/api/login"), new { user = "dave" });
        client.AccessToken = first.Access;
        Assert.Equal("dave", (await client.JsonAsync(HttpMethod.Get, A.Url("/api/me"))).GetProperty("user").GetString());
        await client.JsonAsync(HttpMethod.Post, B.Url("/api/cart"), new { item = "apple" });

        client.AccessToken = null;
        // Two stopwatches bracket the rotation: "within the grace window" is checked against the one started before it,
        // "after the grace window" waited for with the one started after it (a fresh process's first refresh is slow).
        var beforeRotation = Stopwatch.StartNew();
        var second = await PairAsync(client, B.Url("/api/refresh"), new { refreshToken = first.Refresh });
        var afterRotation = Stopwatch.StartNew();
        // A retry of the same refresh token on another instance within the grace window (a lost response) gets the
        // successor pair, not a second chain: the rotation is recorded in the store, not in B's memory.
        var retried = await PairAsync(client, C.Url("/api/refresh"), new { refreshToken = first.Refresh });
        Assert.True(beforeRotation.Elapsed < DemoFleet.ReuseGraceWindow, $"the rotation and its retry took {beforeRotation.Elapsed}, longer than the grace window: the machine is too slow for this check");

        client.AccessToken = second.Access;
        Assert.Equal("dave", (await client.JsonAsync(HttpMethod.Get, C.Url("/api/me"))).GetProperty("user").GetString());
        Assert.Equal(["apple"], Items(await client.JsonAsync(HttpMethod.Get, C.Url("/api/cart")), "items"));
        client.AccessToken = retried.Access;
        Assert.Equal("dave", (await client.JsonAsync(HttpMethod.Get, A.Url("/api/me"))).GetProperty("user").GetString());
        client.AccessToken = first.Access;
        await AssertRejectedAsync(client, C.Url("/api/me"), "revoked_token");

        // After the grace window, the old refresh token used again on yet another instance is a leak: the whole
        // session ends, on every instance.
        // Token times are whole seconds (as in the JWTs), so the window can look up to a second longer than configured.
        var wait = DemoFleet.ReuseGraceWindow + TimeSpan.FromSeconds(1.3) - afterRotation.Elapsed;
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }
        client.AccessToken = null;
        using (var reuse = await client.PostJsonAsync(A.Url("/api/refresh"), new { refreshToken = first.Refresh }))
        {
            Assert.True(reuse.StatusCode == HttpStatusCode.Unauthorized,
                $"reusing the rotated refresh token {afterRotation.Elapsed} after the rotation: {(int)reuse.StatusCode} {await reuse.Content.ReadAsStringAsync()}");
            Assert.Equal("Bearer error=\"invalid_token\", error_description=\"refresh_token_reused\"", Challenge(reuse));
        }
        client.AccessToken = second.Access;
        foreach (var instance in fleet.Instances)
        {
            await Eventually(() => AssertRejectedAsync(client, instance.Url("/api/me"), "revoked_token"));
        }
        client.AccessToken = null;
        using var refresh = await client.PostJsonAsync(C.Url("/api/refresh"), new { refreshToken = second.Refresh });
        Assert.Equal(HttpStatusCode.Unauthorized, refresh.StatusCode);
    }

    [Fact]
    public async Task ATokenLogoutOnOneInstanceIsRefusedOnEveryInstanceAtOnce()
    {
        using var client = new DemoClient(A.BaseAddress);
        var pair = await PairAsync(client, A.Url("/api/login"), new { user = "erin" });
        client.AccessToken = pair.Access;
        foreach (var instance in fleet.Instances)
        {
            Assert.Equal("erin", (await client.JsonAsync(HttpMethod.Get, instance.Url("/api/me"))).GetProperty("user").GetString());
        }

        using (var logout = await client.PostAsync(C.Url("/api/logout")))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }

        foreach (var instance in fleet.Instances)
        {
            await Eventually(() => AssertRejectedAsync(client, instance.Url("/api/me"), "revoked_token"));
        }
        client.AccessToken = null;
        using var refresh = await client.PostJsonAsync(B.Url("/api/refresh"), new { refreshToken = pair.Refresh });
        Assert.Equal(HttpStatusCode.Unauthorized, refresh.StatusCode);
    }

    /// <summary>
    /// Runs <paramref name="assertion"/> until it passes, for at most the fleet's <see cref="DemoFleet.PropagationBound"/>
    /// (once, without a near cache): a read on another instance may lag a change by that much, and no more.
    /// </summary>
    private async Task Eventually(Func<Task> assertion)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await assertion();
                return;
            }
            catch (Exception) when (clock.Elapsed < fleet.PropagationBound)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20));
            }
        }
    }

    private static async Task<(string Access, string Refresh)> PairAsync(DemoClient client, string url, object body)
    {
        var pair = await client.JsonAsync(HttpMethod.Post, url, body);
        return (pair.GetProperty("accessToken").GetString()!, pair.GetProperty("refreshToken").GetString()!);
    }

    private static async Task AssertStatusAsync(DemoClient client, string url, HttpStatusCode expected, DemoProcess instance)
    {
        using var response = await client.GetAsync(url);
        Assert.True(expected == response.StatusCode, $"GET {url} on {instance.Name}: expected {(int)expected}, got {(int)response.StatusCode}");
    }

    private static async Task AssertRejectedAsync(DemoClient client, string url, string reason)
    {
        using var response = await client.GetAsync(url);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal($"Bearer error=\"invalid_token\", error_description=\"{reason}\"", Challenge(response));
    }

    private static string Challenge(HttpResponseMessage response) =>
        response.Headers.NonValidated.TryGetValues("WWW-Authenticate", out var values) ? string.Join(", ", values) : string.Empty;

    private static string[] Items(JsonElement body, string property) =>
        [.. body.GetProperty(property).EnumerateArray().Select(e => e.GetString()!)];
}

/// <summary>The multi-instance tests on PostgreSQL: three processes, one database.</summary>
public sealed class PostgresMultiInstanceTests(PostgresFleet fleet) : MultiInstanceTests(fleet), IClassFixture<PostgresFleet>;

/// <summary>The multi-instance tests on Redis: three processes, one server.</summary>
public sealed class RedisMultiInstanceTests(RedisFleet fleet) : MultiInstanceTests(fleet), IClassFixture<RedisFleet>;

/// <summary>The multi-instance tests on PostgreSQL with the near cache: changes reach the other instances through NOTIFY.</summary>
public sealed class PostgresNearCacheMultiInstanceTests(PostgresNearCacheFleet fleet) : MultiInstanceTests(fleet), IClassFixture<PostgresNearCacheFleet>;

/// <summary>The multi-instance tests on Redis with the near cache: changes reach the other instances through pub/sub.</summary>
public sealed class RedisNearCacheMultiInstanceTests(RedisNearCacheFleet fleet) : MultiInstanceTests(fleet), IClassFixture<RedisNearCacheFleet>;
