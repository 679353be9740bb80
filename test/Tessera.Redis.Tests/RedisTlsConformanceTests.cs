using Tessera.Testing;

namespace Tessera.Redis.Tests;

[Collection(RedisTopologyCollections.Tls)] public sealed class RedisTlsSessionStoreConformanceTests : SessionStoreConformanceTests<RedisTlsStoreKit>;
[Collection(RedisTopologyCollections.Tls)] public sealed class RedisTlsHttpConformanceTests : ServerSideSessionHttpConformanceTests<RedisTlsStoreKit>;
[Collection(RedisTopologyCollections.Tls)] public sealed class RedisTlsTokenSessionConformanceTests : TokenSessionConformanceTests<RedisTlsStoreKit>;
[Collection(RedisTopologyCollections.Tls)] public sealed class RedisTlsTokenHttpConformanceTests : TokenHttpConformanceTests<RedisTlsStoreKit>;
