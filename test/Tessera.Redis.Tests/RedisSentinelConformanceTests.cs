using Tessera.Testing;

namespace Tessera.Redis.Tests;

[Collection(RedisTopologyCollections.Sentinel)] public sealed class RedisSentinelSessionStoreConformanceTests : SessionStoreConformanceTests<RedisSentinelStoreKit>;
[Collection(RedisTopologyCollections.Sentinel)] public sealed class RedisSentinelHttpConformanceTests : ServerSideSessionHttpConformanceTests<RedisSentinelStoreKit>;
[Collection(RedisTopologyCollections.Sentinel)] public sealed class RedisSentinelTokenSessionConformanceTests : TokenSessionConformanceTests<RedisSentinelStoreKit>;
[Collection(RedisTopologyCollections.Sentinel)] public sealed class RedisSentinelTokenHttpConformanceTests : TokenHttpConformanceTests<RedisSentinelStoreKit>;
