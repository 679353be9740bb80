using System.Collections.Concurrent;
using StackExchange.Redis;
using Tessera.NearCache;
using Tessera.Testing;

namespace Tessera.Redis.Tests;

/// <summary>
/// Stores for tests on the shared Redis: one multiplexer per endpoint for the whole run, a fresh key prefix per test
/// instance (so tests never see each other's keys), and deletion of that prefix's keys at the end.
/// </summary>
public sealed class RedisTestStores(RedisFixture fixture, TimeProvider clock) : IAsyncDisposable
{
    private static readonly ConcurrentDictionary<string, Task<IConnectionMultiplexer>> Connections = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<NearCacheSessionStore> _caches = [];
    private int _count;

    public string Root { get; } = "tessera-test-" + Guid.NewGuid().ToString("N");

    public static Task<IConnectionMultiplexer> ConnectionAsync(RedisFixture fixture) =>
        Connections.GetOrAdd(fixture.Endpoint, _ => fixture.ConnectAsync());

    public RedisSessionStore Create() => Create(NewPrefix());

    /// <summary>A key prefix no store of this run has used yet.</summary>
    public string NewPrefix() => $"{Root}:{Interlocked.Increment(ref _count)}";

    /// <summary>A store over the keys of <paramref name="prefix"/>: stores with one prefix share their sessions.</summary>
    public RedisSessionStore Create(string prefix, Action<RedisSessionStoreOptions>? configure = null)
    {
        var connection = ConnectionAsync(fixture).GetAwaiter().GetResult();
        var options = new RedisSessionStoreOptions { KeyPrefix = prefix };
        configure?.Invoke(options);
        return new RedisSessionStore(connection, options, clock);
    }

    /// <summary>A fresh store behind a started near cache on the store's pub/sub channel; stopped at disposal.</summary>
    public NearCacheSessionStore CreateNearCached()
    {
        var store = Create();
        var cache = StoreKit.StartNearCache(store, new RedisSessionInvalidationChannel(store), clock);
        _caches.Add(cache);
        return cache;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var cache in _caches)
        {
            await cache.DisposeAsync();
        }
        await DeleteKeysAsync(await ConnectionAsync(fixture), Root);
    }

    /// <summary>Every key starting with <paramref name="prefix"/>, on every primary (SCAN, never KEYS).</summary>
    public static async Task<List<string>> KeysAsync(IConnectionMultiplexer connection, string prefix)
    {
        var keys = new List<string>();
        foreach (var server in connection.GetServers().Where(s => !s.IsReplica))
        {
            await foreach (var key in server.KeysAsync(pattern: Glob(prefix) + "*", pageSize: 1000))
            {
                keys.Add(key!);
            }
        }
        return keys;
    }

    public static async Task DeleteKeysAsync(IConnectionMultiplexer connection, string prefix)
    {
        var db = connection.GetDatabase();
        // One key per DEL: on a cluster the keys of one batch may live on different slots.
        await Task.WhenAll((await KeysAsync(connection, prefix)).Select(k => db.KeyDeleteAsync(k)));
    }

    private static string Glob(string text) => string.Concat(text.Select(c => c is '*' or '?' or '[' or ']' or '\\' ? "\\" + c : c.ToString()));
}
