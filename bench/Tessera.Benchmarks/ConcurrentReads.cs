using System.Diagnostics;

namespace Tessera.Benchmarks;

/// <summary>
/// The <c>concurrent-reads</c> mode: what a store costs the app for each read by credential when many are in flight at
/// once, as under HTTP load, without the HTTP server around it: reads per second, the process's CPU time per read and
/// the bytes it allocated per read. For comparing two builds of one store back to back: the CPU per read varies a few
/// per cent between runs, far less than HTTP throughput does on a shared machine. It is not a target, so it returns 0.
/// </summary>
public static class ConcurrentReads
{
    private const int Sessions = 100;

    /// <summary>Runs the mode.</summary>
    /// <param name="args">
    /// <c>--stores a,b</c> (every available one: memory and sqlite, and postgres and redis when their variables are set),
    /// <c>--readers N</c> reads in flight at once (default 50, as bench/http.sh's wrk connections), <c>--seconds N</c>
    /// measured per store (default 5, after 3 s of warm-up), <c>--rounds N</c> measurements per store (default 3).
    /// </param>
    /// <returns>0.</returns>
    public static async Task<int> RunAsync(string[] args)
    {
        var readers = Arguments.Int(args, "--readers", 50);
        var seconds = Arguments.Int(args, "--seconds", 5);
        var rounds = Arguments.Int(args, "--rounds", 3);
        var stores = Arguments.Value(args, "--stores")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            ?? BenchStores.Available();
        Console.WriteLine($"concurrent-reads: {readers} readers, each calling LoadByCredentialAsync on {Sessions} live sessions in turn");
        Console.WriteLine($"(a subject and two data keys each), {seconds} s measured after 3 s of warm-up, {rounds} rounds per store.");
        Console.WriteLine("CPU is the whole process's (TotalProcessorTime), bytes are GC.GetTotalAllocatedBytes: this process does nothing else.");
        if (BenchStores.LeftOutNotice() is { Length: > 0 } notice)
        {
            Console.WriteLine(notice);
        }
        Console.WriteLine();
        foreach (var name in stores)
        {
            await using var bench = await BenchStores.CreateAsync(name, TimeProvider.System);
            var now = DateTimeOffset.UtcNow;
            var sessions = new List<SessionRecord>();
            for (var i = 0; i < Sessions; i++)
            {
                var record = BenchSessions.Record(BenchSessions.RandomHash(), now, TimeSpan.FromHours(1), $"user{i}",
                    new Dictionary<string, string>(StringComparer.Ordinal) { ["cart"] = "[\"apple\"]", ["theme"] = "\"dark\"" });
                if (!await bench.Store.CreateAsync(record))
                {
                    throw new InvalidOperationException($"{name}: creating a session failed.");
                }
                sessions.Add(record);
            }
            await MeasureAsync(bench.Store, sessions, readers, TimeSpan.FromSeconds(3));
            for (var round = 1; round <= rounds; round++)
            {
                var (reads, elapsed, cpu, bytes) = await MeasureAsync(bench.Store, sessions, readers, TimeSpan.FromSeconds(seconds));
                Console.WriteLine($"{name,-8} round {round}/{rounds}  {reads / elapsed.TotalSeconds,10:N0} reads/s  {cpu.TotalMicroseconds / reads,6:F2} µs CPU per read  {bytes / reads,6:N0} B per read");
            }
        }
        return 0;
    }

    private static async Task<(long Reads, TimeSpan Elapsed, TimeSpan Cpu, long Bytes)> MeasureAsync(
        ISessionStore store, List<SessionRecord> sessions, int readers, TimeSpan duration)
    {
        long reads = 0;
        var stop = 0;
        async Task ReadAsync(int start)
        {
            for (var i = start; Volatile.Read(ref stop) == 0; i++)
            {
                if (await BenchStores.LoadByCredentialAsync(store, sessions[i % sessions.Count]) is null)
                {
                    throw new InvalidOperationException("A live session read as missing.");
                }
                Interlocked.Increment(ref reads);
            }
        }
        using var process = Process.GetCurrentProcess();
        var bytesBefore = GC.GetTotalAllocatedBytes(precise: true);
        var cpuBefore = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var running = Enumerable.Range(0, readers).Select(n => Task.Run(() => ReadAsync(n))).ToArray();
        await Task.Delay(duration);
        Volatile.Write(ref stop, 1);
        await Task.WhenAll(running);
        var elapsed = clock.Elapsed;
        process.Refresh();
        return (Interlocked.Read(ref reads), elapsed, process.TotalProcessorTime - cpuBefore, GC.GetTotalAllocatedBytes(precise: true) - bytesBefore);
    }
}
