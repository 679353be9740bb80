namespace Tessera.Benchmarks;

/// <summary>
/// The <c>request-allocations</c> mode: managed bytes Tessera allocates for one read-only cookie request (the
/// middleware invoked directly over the memory store; see <see cref="MiddlewareHarness"/>). Target: at most 1 KB.
/// Run from a Release build: a Debug build compiles every async method's state machine as a class, which adds an
/// allocation per async call that a shipped (Release) package does not make.
/// </summary>
public static class RequestAllocations
{
    /// <summary>The target: bytes Tessera allocates per read-only request.</summary>
    public const int MaxBytesPerRequest = 1024;

    private const int WarmUpRequests = 200;
    private const int MeasuredRequests = 1000;

    /// <summary>Runs the mode.</summary>
    /// <returns>0 when within the target, 1 when over it.</returns>
    public static int Run()
    {
        using var harness = new MiddlewareHarness();
        Console.WriteLine($"request-allocations: {MeasuredRequests:N0} read-only requests with a valid cookie through TesseraMiddleware over the memory store.");
        Console.WriteLine("Counted (GC.GetAllocatedBytesForCurrentThread around InvokeAsync): the session view and its request features,");
        Console.WriteLine("verifying the cookie, the store read, the endpoint's loading and reading of the session, and the commit that");
        Console.WriteLine("writes nothing. Not counted: the DefaultHttpContext, its headers, its parsed cookie collection and its");
        Console.WriteLine("cancellation token feature, made before each measurement (a server makes those for every request, with or");
        Console.WriteLine("without Tessera). Every request completes synchronously, so all of it lands on this thread.");
        Console.WriteLine();
        for (var i = 0; i < WarmUpRequests; i++)
        {
            Invoke(harness, harness.NewRequest(prepared: true));
        }
        var perRequest = new long[MeasuredRequests];
        for (var i = 0; i < MeasuredRequests; i++)
        {
            var context = harness.NewRequest(prepared: true);
            var before = GC.GetAllocatedBytesForCurrentThread();
            Invoke(harness, context);
            perRequest[i] = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        var manager = harness.Manager;
        manager.Credentials.Verify(harness.Cookie, out var hash);
        var parts = new (string What, long Bytes)[]
        {
            ("the session view (SessionManager.Open)", Measure(() => manager.Open(harness.Cookie))),
            ("verifying the cookie (CookieCredential.Verify)", Measure(() => manager.Credentials.Verify(harness.Cookie, out _))),
            ("the store read (InMemorySessionStore.LoadByCredentialAsync)", Measure(() => manager.Store.LoadByCredentialAsync(hash!).GetAwaiter().GetResult())),
        };
        var max = perRequest.Max();
        Console.WriteLine($"  bytes per request: min {perRequest.Min():N0}, max {max:N0} (target <= {MaxBytesPerRequest:N0})");
        Console.WriteLine("  of which, measured one at a time:");
        foreach (var (what, bytes) in parts)
        {
            Console.WriteLine($"    {what,-62} {bytes,5:N0}");
        }
        Console.WriteLine($"    {"the rest: the request features, the middleware and the endpoint",-62} {max - parts.Sum(p => p.Bytes),5:N0}");
        Console.WriteLine();
        var ok = max <= MaxBytesPerRequest;
        Console.WriteLine(ok ? $"WITHIN TARGET: {max:N0} <= {MaxBytesPerRequest:N0} bytes." : $"OVER TARGET: {max:N0} > {MaxBytesPerRequest:N0} bytes.");
        return ok ? 0 : 1;
    }

    private static void Invoke(MiddlewareHarness harness, Microsoft.AspNetCore.Http.DefaultHttpContext context)
    {
        var pending = harness.Middleware.InvokeAsync(context);
        if (!pending.IsCompletedSuccessfully || harness.LastSubject != "alice")
        {
            throw new InvalidOperationException("The request did not complete synchronously with the signed-in subject; the measurement would miss allocations.");
        }
    }

    // An Action, not a Func<object>: boxing a value-type result would be counted as the operation's.
    private static long Measure(Action operation)
    {
        for (var i = 0; i < WarmUpRequests; i++)
        {
            operation();
        }
        var before = GC.GetAllocatedBytesForCurrentThread();
        operation();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
