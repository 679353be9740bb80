using Tessera.Testing;

namespace Tessera.Tests;

/// <summary>The memory store (the reference implementation of the token store) against the token-session suite.</summary>
public sealed class InMemoryTokenSessionConformanceTests : TokenSessionConformanceTests
{
    protected override ISessionStore CreateStore() => new InMemorySessionStore(Clock);
}
