using Tessera.Testing;

namespace Tessera.AspNetCore.Tests;

/// <summary>Cookie and header hygiene on the memory store.</summary>
public sealed class InMemoryHygieneConformanceTests : HygieneConformanceTests
{
    protected override ISessionStore CreateStore() => new InMemorySessionStore(Clock);
}
