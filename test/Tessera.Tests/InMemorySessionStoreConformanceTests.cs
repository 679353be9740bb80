using Tessera.Testing;

namespace Tessera.Tests;

/// <summary>The memory store against the store conformance suite.</summary>
public sealed class InMemorySessionStoreConformanceTests : SessionStoreConformanceTests
{
    protected override ISessionStore CreateStore(int maxSessions = 0, StoreCapacityPolicy policy = StoreCapacityPolicy.EvictLeastRecentlyUsed)
    {
        var options = new InMemorySessionStoreOptions { CapacityPolicy = policy };
        if (maxSessions > 0)
        {
            options.MaxSessions = maxSessions;
        }
        return new InMemorySessionStore(Clock, options);
    }
}
