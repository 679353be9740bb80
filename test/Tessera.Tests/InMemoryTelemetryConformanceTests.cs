using Tessera.Testing;

namespace Tessera.Tests;

/// <summary>Events, metrics and the health check over the memory store.</summary>
public sealed class InMemoryTelemetryConformanceTests : SessionTelemetryConformanceTests
{
    protected override ISessionStore CreateStore() => new InMemorySessionStore(Clock);
}
