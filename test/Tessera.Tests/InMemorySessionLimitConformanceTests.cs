using Tessera.Testing;

namespace Tessera.Tests;

/// <summary>The per-subject session limit on the memory store.</summary>
public sealed class InMemorySessionLimitConformanceTests : SessionLimitConformanceTests
{
    protected override ISessionStore CreateStore() => new InMemorySessionStore(Clock);
}
