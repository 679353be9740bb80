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
            // The suite's records are anonymous: the total bound alone is under test here (the anonymous one in
            // InMemoryAnonymousBoundConformanceTests).
            options.MaxSessions = maxSessions;
            options.MaxAnonymousSessions = maxSessions;
        }
        return new InMemorySessionStore(Clock, options);
    }
}
