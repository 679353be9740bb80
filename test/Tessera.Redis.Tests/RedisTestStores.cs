using System.Collections.Concurrent;
using Tessera.NearCache;
using Tessera.Redis.Resp;
using Tessera.Testing;

namespace Tessera.Redis.Tests;

/// <summary>
/// Stores for tests on the shared Redis: one connection per endpoint for the whole run, a fresh key prefix per test
/// instance (so tests never see each other's keys), and deletion of that prefix's keys at the end.
/// </summary>
public sealed class RedisTestStores(RedisFixture fixture, TimeProvider clock) : IAsyncDisposable
{
    private static readonly ConcurrentDictionary<string, Task<RedisConnection>> Connections = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<NearCacheSessionStore> _caches = [];
    private int _count;

    public string Root { get; } = "tessera-test-" + Guid.NewGuid().ToString("N");

    public static Task<RedisConnection> ConnectionAsync(RedisFixture fixture) =>
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

    public static async Task<List<string>> KeysAsync(RedisConnection connection, string prefix)
    {
        var keys = new List<string>();
        var cursor = "0";
        do
        {
            var reply = (await connection.ExecuteAsync("SCAN", cursor, "MATCH", Glob(prefix) + "*", "COUNT", 1000)).AsArray()!;
            cursor = reply[0].AsString()!;
            keys.AddRange(reply[1].AsArray()!.Select(k => k.AsString()!));
        }
        while (cursor != "0");
        return keys;
    }

    public static async Task DeleteKeysAsync(RedisConnection connection, string prefix)
    {
        foreach (var chunk in (await KeysAsync(connection, prefix)).Chunk(500))
        {
            await connection.ExecuteAsync("DEL", chunk.Select(k => (RedisArg)k).ToArray());
        }
    }

    private static string Glob(string text) => string.Concat(text.Select(c => c is '*' or '?' or '[' or ']' or '\\' ? "\\" + c : c.ToString()));
}
