using Tessera.Testing;

namespace Tessera.Tests;

/// <summary>The anonymous-flood suite on the memory store: an exact bound, least recently seen anonymous sessions evicted.</summary>
public sealed class InMemoryAnonymousBoundConformanceTests : AnonymousBoundConformanceTests
{
    protected override AnonymousBoundBehavior Behavior => AnonymousBoundBehavior.EvictsLeastRecentlyUsed;

    protected override bool HasTotalBound => true;

    protected override ISessionStore CreateStore(int maxAnonymousSessions, int? maxSessions = null) =>
        new InMemorySessionStore(Clock, new InMemorySessionStoreOptions { MaxSessions = maxSessions ?? 100 * maxAnonymousSessions, MaxAnonymousSessions = maxAnonymousSessions });
}
