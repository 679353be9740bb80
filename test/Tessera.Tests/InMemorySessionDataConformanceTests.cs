using Tessera.Testing;

namespace Tessera.Tests;

/// <summary>What a session may hold, on the memory store.</summary>
public sealed class InMemorySessionDataConformanceTests : SessionDataConformanceTests
{
    protected override ISessionStore CreateStore() => new InMemorySessionStore(Clock);
}
