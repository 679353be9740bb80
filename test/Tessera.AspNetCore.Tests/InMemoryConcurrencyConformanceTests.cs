using Tessera.Testing;

namespace Tessera.AspNetCore.Tests;

/// <summary>Parallel refreshes and parallel sign-ins under a session limit, on the memory store.</summary>
public sealed class InMemoryConcurrencyConformanceTests : ConcurrencyConformanceTests
{
    protected override ISessionStore CreateStore() => new InMemorySessionStore(Clock);
}
