using Tessera.Testing;

namespace Tessera.AspNetCore.Tests;

/// <summary>The hostile-input suite over the memory store, with the full 100,000 mutations (the other stores run fewer).</summary>
public sealed class InMemoryHostileInputConformanceTests : HostileInputConformanceTests
{
    protected override ISessionStore CreateStore() => new InMemorySessionStore(Clock);

    protected override int MutationCount => 100_000;
}
