using Microsoft.Extensions.Time.Testing;
using BenchmarkDotNet.Attributes;
using Tessera.Testing;

namespace Tessera.Benchmarks;

/// <summary>
/// Each store's two hot operations: the read every request with a cookie makes (load by credential hash) and the
/// per-key patch a request that changes its session makes. Every store holds <see cref="BackgroundSessions"/> other
/// sessions so lookups go through populated indexes. PostgreSQL and Redis run only when TESSERA_BENCH_POSTGRES /
/// TESSERA_BENCH_REDIS are set.
/// </summary>
[MemoryDiagnoser]
public class StoreBenchmarks
{
    /// <summary>Sessions stored besides the one measured.</summary>
    public const int BackgroundSessions = 10_000;

    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private BenchStore _store = null!;
    private SessionRecord _record = null!;
    private SessionPatch[] _patches = null!;
    private int _next;

    /// <summary>The store: memory and sqlite always, postgres and redis when configured.</summary>
    [ParamsSource(nameof(Stores))]
    public string Store { get; set; } = "memory";

    /// <summary>The stores available in this environment.</summary>
    public static IEnumerable<string> Stores() => BenchStores.Available();

    /// <summary>Creates and fills the store.</summary>
    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    /// <summary>Removes the store's file, schema or keys.</summary>
    [GlobalCleanup]
    public void Cleanup() => _store.DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Loads the session by its credential hash (the read of every request with a cookie).</summary>
    [Benchmark]
    public async Task<SessionRecord?> LoadByCredential() => await BenchStores.LoadByCredentialAsync(_store.Store, _record);

    /// <summary>Applies a patch setting one key and the activity times (the write of a request that changed one key).</summary>
    [Benchmark]
    public async Task<bool> ApplyPatch() => await _store.Store.ApplyAsync(_record.Id, _patches[_next++ & 1]);

    private async Task SetupAsync()
    {
        _store = await BenchStores.CreateAsync(Store, _clock);
        var now = _clock.GetUtcNow();
        await Parallel.ForAsync(0, BackgroundSessions, new ParallelOptions { MaxDegreeOfParallelism = Store == "memory" ? 1 : 8 }, async (i, cancellationToken) =>
            await _store.Store.CreateAsync(BenchSessions.Record(BenchSessions.RandomHash(), now, TimeSpan.FromHours(8), $"user{i % 1000}", SmallData(i)), cancellationToken));
        _record = BenchSessions.Record(BenchSessions.RandomHash(), now, TimeSpan.FromHours(8), "alice", SmallData(-1));
        if (!await _store.Store.CreateAsync(_record))
        {
            throw new InvalidOperationException("The store refused the measured session.");
        }
        // Two patches that alternate, so every apply really changes the stored value.
        _patches = [Patch("1"), Patch("2")];
        SessionPatch Patch(string counter) => new()
        {
            Set = new Dictionary<string, string>(StringComparer.Ordinal) { ["counter"] = counter },
            LastSeenAt = now,
            IdleExpiresAt = now + TimeSpan.FromMinutes(30),
        };
    }

    private static Dictionary<string, string> SmallData(int i) => new(StringComparer.Ordinal)
    {
        ["cart"] = $$"""[{"sku":"SKU-{{i:D5}}","quantity":1}]""",
        ["theme"] = "\"dark\"",
    };
}
