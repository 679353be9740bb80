using Tessera.Testing;

namespace Tessera.Tests;

/// <summary>Per-tab scopes on the memory store.</summary>
public sealed class InMemoryTabScopeConformanceTests : TabScopeConformanceTests
{
    protected override ISessionStore CreateStore() => new InMemorySessionStore(Clock);
}
