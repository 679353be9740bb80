using Tessera.Testing;
using Tessera.TestServices;

namespace Tessera.Tests;

/// <summary>How the suites get routed memory stores: <see cref="RoutedMemoryStore"/> over a new memory store per call.</summary>
public sealed class RoutedMemoryStoreKit : StoreKit
{
    private readonly InMemoryStoreKit _memory = new();

    public override AnonymousBoundBehavior? AnonymousBound => _memory.AnonymousBound;

    public override bool HasTotalBound => _memory.HasTotalBound;

    protected override ISessionStore Create(TimeProvider clock, StoreShape shape) =>
        new RoutedMemoryStore((InMemorySessionStore)_memory.CreateStore(clock, shape));

    protected override ValueTask DisposeCoreAsync() => _memory.DisposeAsync();
}

public sealed class RoutedMemorySessionStoreConformanceTests : SessionStoreConformanceTests<RoutedMemoryStoreKit>;
public sealed class RoutedMemoryTokenSessionConformanceTests : TokenSessionConformanceTests<RoutedMemoryStoreKit>;
public sealed class RoutedMemorySessionDataConformanceTests : SessionDataConformanceTests<RoutedMemoryStoreKit>;
public sealed class RoutedMemorySessionLimitConformanceTests : SessionLimitConformanceTests<RoutedMemoryStoreKit>;
public sealed class RoutedMemoryAnonymousBoundConformanceTests : AnonymousBoundConformanceTests<RoutedMemoryStoreKit>;
