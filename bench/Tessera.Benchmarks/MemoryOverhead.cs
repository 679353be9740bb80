using Microsoft.Extensions.Time.Testing;
using System.Globalization;
using Tessera.Testing;

namespace Tessera.Benchmarks;

/// <summary>
/// The <c>memory-overhead</c> mode: fills an <see cref="InMemorySessionStore"/> with a million small sessions and reports
/// how many bytes of managed heap each costs beyond its own data. Target: at most 500 bytes per session.
/// </summary>
public static class MemoryOverhead
{
    /// <summary>The target: managed bytes per session beyond its data.</summary>
    public const int TargetBytesPerSession = 500;

    private const string DataKey = "cart";

    /// <summary>Runs the mode.</summary>
    /// <param name="args">Optional <c>--sessions N</c> (default 1,000,000).</param>
    /// <returns>The exit code: 0 when within the target, 1 when over it.</returns>
    public static async Task<int> RunAsync(string[] args)
    {
        var sessions = Arguments.Int(args, "--sessions", 1_000_000);
        Console.WriteLine($"memory-overhead: {sessions:N0} sessions in InMemorySessionStore, each with one data key (\"{DataKey}\") holding a ~40-character JSON value.");
        Console.WriteLine();
        Console.WriteLine("Method:");
        Console.WriteLine("  1. Full blocking GC, read GC.GetTotalMemory(true): the baseline.");
        Console.WriteLine("  2. Allocate each session's data value string (unique per session, kept in an array), full GC, read the heap again:");
        Console.WriteLine("     the growth minus the array itself is the measured size of the data strings. The key string is one shared");
        Console.WriteLine("     literal, as in an application, so it costs nothing per session.");
        Console.WriteLine("  3. Create the store and CreateAsync every session (a new random UUID id, a fresh 32-byte credential hash, the data");
        Console.WriteLine("     value from step 2, no subject, empty metadata), exactly as SessionManager would hand them over; then drop the");
        Console.WriteLine("     array and everything but the store, full GC, read the heap.");
        Console.WriteLine("  4. Overhead per session = (heap after step 3 - baseline - data strings) / sessions: the store's record copies, ids,");
        Console.WriteLine("     hashes, per-session dictionaries and its index tables, amortized.");
        Console.WriteLine();

        var clock = new FakeTimeProvider(TestClock.Start);
        var lifetime = TimeSpan.FromHours(8);
        var now = clock.GetUtcNow();

        var baseline = Heap();
        var values = new string[sessions];
        var withArray = Heap();
        for (var i = 0; i < sessions; i++)
        {
            values[i] = string.Create(CultureInfo.InvariantCulture, $$"""[{"sku":"SKU-{{i:D8}}","quantity":{{(i % 9) + 1}}}]""");
        }
        var withStrings = Heap();
        var dataBytes = withStrings - withArray;

        var store = new InMemorySessionStore(clock, new InMemorySessionStoreOptions { MaxSessions = sessions });
        for (var i = 0; i < sessions; i++)
        {
            var data = new Dictionary<string, string>(1, StringComparer.Ordinal) { [DataKey] = values[i] };
            if (!await store.CreateAsync(BenchSessions.Record(BenchSessions.RandomHash(), now, lifetime, data: data)))
            {
                throw new InvalidOperationException("The store refused a session.");
            }
        }
        values = null;
        var withStore = Heap();
        GC.KeepAlive(values);

        var total = withStore - baseline;
        var overhead = total - dataBytes;
        var perSession = (double)overhead / sessions;
        Console.WriteLine($"  records held:                  {store.RecordCount:N0}");
        Console.WriteLine($"  heap growth with the store:    {total:N0} bytes");
        Console.WriteLine($"  data strings (measured):       {dataBytes:N0} bytes ({(double)dataBytes / sessions:N1} per session)");
        Console.WriteLine($"  overhead beyond the data:      {overhead:N0} bytes");
        Console.WriteLine($"  overhead per session:          {perSession:N1} bytes (target <= {TargetBytesPerSession})");
        Console.WriteLine();
        PrintBreakdown(now, lifetime);
        GC.KeepAlive(store);

        var ok = perSession <= TargetBytesPerSession;
        Console.WriteLine();
        Console.WriteLine(ok ? $"WITHIN TARGET: {perSession:N0} <= {TargetBytesPerSession} bytes per session." : $"OVER TARGET: {perSession:N0} > {TargetBytesPerSession} bytes per session.");
        return ok ? 0 : 1;
    }

    /// <summary>
    /// Where a session's bytes go: what the store allocates to keep one session, object by object, measured with
    /// <see cref="GC.GetAllocatedBytesForCurrentThread"/> around the same operations the store performs. The rest of the
    /// total is the store's two index dictionaries (entries and buckets, grown by doubling).
    /// </summary>
    private static void PrintBreakdown(DateTimeOffset now, TimeSpan lifetime)
    {
        var record = BenchSessions.Record(BenchSessions.RandomHash(), now, lifetime,
            data: new Dictionary<string, string>(1, StringComparer.Ordinal) { [DataKey] = "x" });
        Console.WriteLine("Where the bytes of one session go (allocation of each object the store keeps, measured one at a time):");
        var parts = new (string What, long Bytes)[]
        {
            ("SessionRecord copy (record with { ... })", Measure(() => record with { Subject = null })),
            ("data dictionary copy (1 entry)", Measure(() => new Dictionary<string, string>(record.Data, StringComparer.Ordinal))),
            ("credential hash copy (byte[32])", Measure(() => (byte[])record.CredentialHash.Clone())),
            ("credential index key (base64 string of the hash)", Measure(() => Convert.ToBase64String(record.CredentialHash))),
            ("session id (UUID string, 36 chars)", Measure(() => Guid.NewGuid().ToString("D"))),
        };
        foreach (var (what, bytes) in parts)
        {
            Console.WriteLine($"  {what,-52} {bytes,5} bytes");
        }
        Console.WriteLine($"  {"sum of the above",-52} {parts.Sum(p => p.Bytes),5} bytes");
        Console.WriteLine("  the rest of the overhead: entries and buckets of the by-id and by-credential dictionaries (about 28 bytes each");
        Console.WriteLine("  per slot, and the tables double as they grow).");
    }

    private static long Measure(Func<object> allocate)
    {
        allocate(); // warm up: JIT and first-use allocations are not the object's size
        var before = GC.GetAllocatedBytesForCurrentThread();
        var kept = allocate();
        var bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        GC.KeepAlive(kept);
        return bytes;
    }

    private static long Heap()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
