using Tessera.Testing;

namespace Tessera.Docs.Tests;

#region directories
/// <summary>
/// Stores for one test class, each in a fresh directory of its own. An xUnit class fixture: made before the class's first
/// test, disposed (deleting every directory) after its last.
/// </summary>
public sealed class JsonFileStores : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "tessera-docs-tests", Guid.NewGuid().ToString("N"));

    /// <summary>A new, empty store on <paramref name="clock"/>.</summary>
    /// <param name="clock">The suite's clock.</param>
    /// <returns>The store.</returns>
    public JsonFileSessionStore Create(TimeProvider clock) => new(Path.Combine(_root, Guid.NewGuid().ToString("N")), clock);

    /// <summary>Deletes every store's directory.</summary>
    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }
}
#endregion

#region store-suite
/// <summary>The store contract: every method, every optional interface, expiry on the suite's clock.</summary>
public sealed class JsonFileStoreConformanceTests(JsonFileStores stores) : SessionStoreConformanceTests, IClassFixture<JsonFileStores>
{
    // The store has no size bound, and says so: the capacity tests then pass without running.
    protected override bool SupportsCapacityBound => false;

    protected override ISessionStore CreateStore(int maxSessions = 0, StoreCapacityPolicy policy = StoreCapacityPolicy.EvictLeastRecentlyUsed) =>
        stores.Create(Clock);
}
#endregion

#region http-suite
/// <summary>
/// Cookie sessions through the real middleware, on a real Kestrel server driven by a real HTTP client: the whole HTTP
/// suite, since the store keeps its sessions on the server.
/// </summary>
public sealed class JsonFileHttpConformanceTests(JsonFileStores stores) : ServerSideSessionHttpConformanceTests, IClassFixture<JsonFileStores>
{
    protected override ISessionStore CreateStore() => stores.Create(Clock);
}
#endregion

/// <summary>Token sessions through <see cref="Tokens.SessionTokenService"/>: issue, refresh, reuse detection, revocation.</summary>
public sealed class JsonFileTokenSessionConformanceTests(JsonFileStores stores) : TokenSessionConformanceTests, IClassFixture<JsonFileStores>
{
    protected override ISessionStore CreateStore() => stores.Create(Clock);
}

/// <summary>Token sessions over HTTP: the bearer transport, authentication and the token endpoints.</summary>
public sealed class JsonFileTokenHttpConformanceTests(JsonFileStores stores) : TokenHttpConformanceTests, IClassFixture<JsonFileStores>
{
    protected override ISessionStore CreateStore() => stores.Create(Clock);
}

/// <summary>The per-user session limit through <see cref="SessionManager"/>.</summary>
public sealed class JsonFileSessionLimitConformanceTests(JsonFileStores stores) : SessionLimitConformanceTests, IClassFixture<JsonFileStores>
{
    protected override ISessionStore CreateStore() => stores.Create(Clock);
}

/// <summary>What a session may hold: awkward keys and values round-trip, unsafe and oversized ones are refused.</summary>
public sealed class JsonFileSessionDataConformanceTests(JsonFileStores stores) : SessionDataConformanceTests, IClassFixture<JsonFileStores>
{
    protected override ISessionStore CreateStore() => stores.Create(Clock);
}

/// <summary>The failure contract, with the store behind the fault injector.</summary>
public sealed class JsonFileStoreFailureConformanceTests(JsonFileStores stores) : StoreFailureConformanceTests, IClassFixture<JsonFileStores>
{
    protected override ISessionStore CreateStore() => stores.Create(Clock);
}

/// <summary>Malformed, forged and mutated cookies and tokens over every transport (2,000 mutations, the suite's default).</summary>
public sealed class JsonFileHostileInputConformanceTests(JsonFileStores stores) : HostileInputConformanceTests, IClassFixture<JsonFileStores>
{
    protected override ISessionStore CreateStore() => stores.Create(Clock);
}

/// <summary>Cookie and header hygiene: cookie attributes, no-store, no credential in a URL or a log line.</summary>
public sealed class JsonFileHygieneConformanceTests(JsonFileStores stores) : HygieneConformanceTests, IClassFixture<JsonFileStores>
{
    protected override ISessionStore CreateStore() => stores.Create(Clock);
}

/// <summary>Fifty parallel refreshes of one token, fifty parallel sign-ins under a session limit.</summary>
public sealed class JsonFileConcurrencyConformanceTests(JsonFileStores stores) : ConcurrencyConformanceTests, IClassFixture<JsonFileStores>
{
    protected override ISessionStore CreateStore() => stores.Create(Clock);
}

/// <summary>Events, metrics and the health check.</summary>
public sealed class JsonFileTelemetryConformanceTests(JsonFileStores stores) : SessionTelemetryConformanceTests, IClassFixture<JsonFileStores>
{
    protected override ISessionStore CreateStore() => stores.Create(Clock);
}

/// <summary>Per-tab scopes: each tab's data kept apart in the session, bounded, and merged like any other key.</summary>
public sealed class JsonFileTabScopeConformanceTests(JsonFileStores stores) : TabScopeConformanceTests, IClassFixture<JsonFileStores>
{
    protected override ISessionStore CreateStore() => stores.Create(Clock);
}
