using Tessera.Testing;

namespace Tessera.Tests;

/// <summary>
/// How the suites get memory stores: a new one per call. The store bounds its sessions, all and anonymous ones, and
/// evicts the least recently used at its bound.
/// </summary>
public sealed class InMemoryStoreKit : StoreKit
{
    public override AnonymousBoundBehavior? AnonymousBound => AnonymousBoundBehavior.EvictsLeastRecentlyUsed;

    public override bool HasTotalBound => true;

    protected override ISessionStore Create(TimeProvider clock, StoreShape shape)
    {
        var options = new InMemorySessionStoreOptions { CapacityPolicy = shape.CapacityPolicy, MaxAnonymousSessions = shape.EffectiveMaxAnonymousSessions };
        if (shape.MaxSessions > 0)
        {
            options.MaxSessions = shape.MaxSessions;
        }
        return new InMemorySessionStore(clock, options);
    }
}

public sealed class InMemorySessionStoreConformanceTests : SessionStoreConformanceTests<InMemoryStoreKit>;
public sealed class InMemoryTokenSessionConformanceTests : TokenSessionConformanceTests<InMemoryStoreKit>;
public sealed class InMemorySessionDataConformanceTests : SessionDataConformanceTests<InMemoryStoreKit>;
public sealed class InMemorySessionLimitConformanceTests : SessionLimitConformanceTests<InMemoryStoreKit>;
public sealed class InMemoryTabScopeConformanceTests : TabScopeConformanceTests<InMemoryStoreKit>;
public sealed class InMemoryTelemetryConformanceTests : SessionTelemetryConformanceTests<InMemoryStoreKit>;
public sealed class InMemoryAnonymousBoundConformanceTests : AnonymousBoundConformanceTests<InMemoryStoreKit>;
