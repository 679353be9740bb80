using Tessera.NearCache;
using Tessera.Testing;

namespace Tessera.Redis.Tests;

/// <summary>
/// How the suites get Redis stores on a <see cref="RedisTopology"/> of the run: each store under a fresh key prefix (so
/// tests never see each other's keys) over the run's multiplexer on that set-up, handed to the store as an application
/// would hand over its own; the stores that share data (the near cache suite's) each open a multiplexer of their own
/// from the configuration, as separate app instances do. When the test ends every key under the kit's prefixes is
/// deleted, by SCAN on every primary. The bounds and capabilities are those of the single-node kit.
/// </summary>
/// <param name="kind">The set-up.</param>
public abstract class RedisTopologyStoreKit(RedisTopologyKind kind) : StoreKit
{
    private readonly string _root = "tessera-test-" + Guid.NewGuid().ToString("N");
    private RedisTopology? _topology;
    private string? _sharedPrefix;
    private int _count;

    /// <inheritdoc />
    public override bool SupportsCapacityBound => false;

    /// <inheritdoc />
    public override AnonymousBoundBehavior? AnonymousBound => AnonymousBoundBehavior.Refuses;

    /// <summary>The set-up, started on first use.</summary>
    public RedisTopology Topology => _topology ??= RedisTopology.SharedAsync(kind).GetAwaiter().GetResult();

    /// <inheritdoc />
    public override ISessionInvalidationChannel CreateChannel(ISessionStore store) => new RedisSessionInvalidationChannel((RedisSessionStore)store);

    /// <summary>A key prefix no store of this kit has used yet.</summary>
    public string NewPrefix() => $"{_root}:{Interlocked.Increment(ref _count)}";

    /// <inheritdoc />
    protected override ISessionStore Create(TimeProvider clock, StoreShape shape)
    {
        var options = new RedisSessionStoreOptions { KeyPrefix = NewPrefix() };
        if (shape.MaxAnonymousSessions is { } anonymous)
        {
            options.MaxAnonymousSessions = anonymous;
        }
        return new RedisSessionStore(Topology.ConnectionAsync().GetAwaiter().GetResult(), options, clock);
    }

    /// <inheritdoc />
    protected override ISessionStore CreateShared(TimeProvider clock) =>
        new RedisSessionStore(new RedisSessionStoreOptions { KeyPrefix = _sharedPrefix ??= NewPrefix(), Configuration = Topology.Options() }, clock);

    /// <inheritdoc />
    protected override async ValueTask DisposeCoreAsync()
    {
        if (_topology is not null)
        {
            await _topology.DeleteKeysAsync(_root);
        }
    }
}

/// <summary>Stores on the TLS-only node, its certificate checked against the run's CA.</summary>
public sealed class RedisTlsStoreKit() : RedisTopologyStoreKit(RedisTopologyKind.Tls);

/// <summary>Stores on the Sentinel set's primary, found through the service name.</summary>
public sealed class RedisSentinelStoreKit() : RedisTopologyStoreKit(RedisTopologyKind.Sentinel);

/// <summary>Stores spread over the three masters of the cluster.</summary>
public sealed class RedisClusterStoreKit() : RedisTopologyStoreKit(RedisTopologyKind.Cluster);
