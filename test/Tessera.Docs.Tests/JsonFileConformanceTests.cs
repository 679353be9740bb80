using Tessera.Testing;

namespace Tessera.Docs.Tests;

#region kit
/// <summary>
/// How the suites get JSON-file stores: each in a fresh directory of its own under one temporary root, which is deleted
/// when the test ends. The store has no size bound, and says so: the capacity tests then pass without running.
/// </summary>
public sealed class JsonFileStoreKit : StoreKit
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "tessera-docs-tests", Guid.NewGuid().ToString("N"));

    public override bool SupportsCapacityBound => false;

    protected override ISessionStore Create(TimeProvider clock, StoreShape shape) =>
        new JsonFileSessionStore(Path.Combine(_root, Guid.NewGuid().ToString("N")), clock);

    protected override ValueTask DisposeCoreAsync()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
        return ValueTask.CompletedTask;
    }
}
#endregion

#region suites
public sealed class JsonFileStoreConformanceTests : SessionStoreConformanceTests<JsonFileStoreKit>;
public sealed class JsonFileHttpConformanceTests : ServerSideSessionHttpConformanceTests<JsonFileStoreKit>;
public sealed class JsonFileTokenSessionConformanceTests : TokenSessionConformanceTests<JsonFileStoreKit>;
public sealed class JsonFileTokenHttpConformanceTests : TokenHttpConformanceTests<JsonFileStoreKit>;
public sealed class JsonFileSignInHttpConformanceTests : SignInHttpConformanceTests<JsonFileStoreKit>;
public sealed class JsonFileSessionLimitConformanceTests : SessionLimitConformanceTests<JsonFileStoreKit>;
public sealed class JsonFileSessionDataConformanceTests : SessionDataConformanceTests<JsonFileStoreKit>;
public sealed class JsonFileStoreFailureConformanceTests : StoreFailureConformanceTests<JsonFileStoreKit>;
public sealed class JsonFileHostileInputConformanceTests : HostileInputConformanceTests<JsonFileStoreKit>;
public sealed class JsonFileHygieneConformanceTests : HygieneConformanceTests<JsonFileStoreKit>;
public sealed class JsonFileConcurrencyConformanceTests : ConcurrencyConformanceTests<JsonFileStoreKit>;
public sealed class JsonFileTelemetryConformanceTests : SessionTelemetryConformanceTests<JsonFileStoreKit>;
public sealed class JsonFileTabScopeConformanceTests : TabScopeConformanceTests<JsonFileStoreKit>;
#endregion
