using StackExchange.Redis;

namespace Tessera.Redis.Tests;

/// <summary>
/// The Redis the tests share: TESSERA_TEST_REDIS (host:port) when test.sh or the caller provides one, otherwise a
/// redis-server started here for the run and stopped at the end. Never skipped: no Redis means the tests fail.
/// Tests use unique keys, so a shared server's other data is never touched.
/// </summary>
public sealed class RedisFixture : IAsyncLifetime
{
    private static readonly Lazy<Task<RedisFixture>> Shared = new(StartSharedAsync, LazyThreadSafetyMode.ExecutionAndPublication);
    private RedisServer? _ownServer;

    /// <summary>
    /// The Redis the store kits share for the whole run (a kit is made per test, so it cannot take a collection
    /// fixture): started on first use, stopped at exit.
    /// </summary>
    public static Task<RedisFixture> SharedAsync() => Shared.Value;

    public string Endpoint { get; private set; } = "";

    /// <summary>A new multiplexer to the server (the caller disposes it).</summary>
    public async Task<IConnectionMultiplexer> ConnectAsync() => await ConnectionMultiplexer.ConnectAsync(Endpoint);

    public async ValueTask InitializeAsync()
    {
        var given = Environment.GetEnvironmentVariable("TESSERA_TEST_REDIS");
        if (!string.IsNullOrWhiteSpace(given))
        {
            Endpoint = given.Trim();
            return;
        }

        _ownServer = await RedisServer.StartAsync();
        Endpoint = _ownServer.Endpoint;
    }

    private static async Task<RedisFixture> StartSharedAsync()
    {
        var fixture = new RedisFixture();
        await fixture.InitializeAsync();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => fixture.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return fixture;
    }

    public async ValueTask DisposeAsync()
    {
        if (_ownServer is not null)
        {
            await _ownServer.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisFixture>
{
    public const string Name = "redis";
}
