using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;

namespace Tessera.Benchmarks;

/// <summary>
/// The middleware on a read-only request: <see cref="AspNetCore.TesseraMiddleware"/> invoked directly with a
/// <see cref="DefaultHttpContext"/> carrying a valid cookie, over the memory store, and an endpoint that reads
/// <see cref="TesseraSession.Subject"/> (see <see cref="MiddlewareHarness"/>). <see cref="ContextOnly"/> builds the same
/// context and calls the same endpoint without Tessera, so the difference between the two is Tessera's share
/// (including ASP.NET Core's parsing of the cookie header, which Tessera's read of the cookie triggers).
/// </summary>
[MemoryDiagnoser]
public class MiddlewareBenchmarks
{
    private MiddlewareHarness _harness = null!;

    /// <summary>Builds the services and stores one signed-in session.</summary>
    [GlobalSetup]
    public void Setup() => _harness = new MiddlewareHarness();

    /// <summary>Stops the host.</summary>
    [GlobalCleanup]
    public void Cleanup() => _harness.Dispose();

    /// <summary>The context and endpoint alone (the endpoint finds no session and reads nothing).</summary>
    [Benchmark(Baseline = true)]
    public Task ContextOnly() => _harness.Endpoint(_harness.NewRequest());

    /// <summary>A read-only request through the middleware: verify the cookie, one store read, no write.</summary>
    [Benchmark]
    public Task ReadOnlyRequest() => _harness.Middleware.InvokeAsync(_harness.NewRequest());
}
