using Tessera.Testing;

namespace Tessera.Redis.Tests;

[Collection(RedisTopologyCollections.Cluster)] public sealed class RedisClusterSessionStoreConformanceTests : SessionStoreConformanceTests<RedisClusterStoreKit>;
[Collection(RedisTopologyCollections.Cluster)] public sealed class RedisClusterHttpConformanceTests : ServerSideSessionHttpConformanceTests<RedisClusterStoreKit>;
[Collection(RedisTopologyCollections.Cluster)] public sealed class RedisClusterTokenSessionConformanceTests : TokenSessionConformanceTests<RedisClusterStoreKit>;
[Collection(RedisTopologyCollections.Cluster)] public sealed class RedisClusterTokenHttpConformanceTests : TokenHttpConformanceTests<RedisClusterStoreKit>;

// On a cluster the subject's index and the anonymous bound sit on other slots than the session, and invalidations are
// published on one node and heard on another: the suites that race or span instances run here too (the connection
// lifetime's across two app instances).
[Collection(RedisTopologyCollections.Cluster)] public sealed class RedisClusterSessionLimitConformanceTests : SessionLimitConformanceTests<RedisClusterStoreKit>;
[Collection(RedisTopologyCollections.Cluster)] public sealed class RedisClusterConcurrencyConformanceTests : ConcurrencyConformanceTests<RedisClusterStoreKit>;
[Collection(RedisTopologyCollections.Cluster)] public sealed class RedisClusterAnonymousBoundConformanceTests : AnonymousBoundConformanceTests<RedisClusterStoreKit>;
[Collection(RedisTopologyCollections.Cluster)] public sealed class RedisClusterNearCacheConformanceTests : NearCacheConformanceTests<RedisClusterStoreKit>;
[Collection(RedisTopologyCollections.Cluster)] public sealed class RedisClusterConnectionLifetimeConformanceTests : ConnectionLifetimeAcrossInstancesConformanceTests<RedisClusterStoreKit>;
