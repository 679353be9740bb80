using Tessera.Testing;

namespace Tessera.AspNetCore.Tests;

public sealed class InMemoryTokenHttpConformanceTests : TokenHttpConformanceTests
{
    protected override ISessionStore CreateStore() => new InMemorySessionStore(Clock);
}
