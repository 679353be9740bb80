using Tessera.Testing;

namespace Tessera.AspNetCore.Tests;

/// <summary>The failure contract over the in-memory store behind the fault injector.</summary>
public sealed class InMemoryStoreFailureConformanceTests : StoreFailureConformanceTests
{
    protected override ISessionStore CreateStore() => new InMemorySessionStore(Clock);
}
