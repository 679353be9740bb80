using Tessera.Testing;

namespace Tessera.AspNetCore.Tests;

public sealed class InMemoryHttpConformanceTests : ServerSideSessionHttpConformanceTests
{
    protected override ISessionStore CreateStore() => new InMemorySessionStore(Clock);
}
