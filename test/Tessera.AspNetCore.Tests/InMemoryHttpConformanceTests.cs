using Tessera.Testing;

namespace Tessera.AspNetCore.Tests;

public sealed class InMemoryHttpConformanceTests : SessionHttpConformanceTests
{
    protected override ISessionStore CreateStore() => new InMemorySessionStore(Clock);
}
