using Microsoft.Extensions.Time.Testing;
using BenchmarkDotNet.Attributes;
using Tessera.Testing;

namespace Tessera.Benchmarks;

/// <summary>
/// A request's unit of work in the core, over the memory store: open the session by its cookie, load it, set one key,
/// commit (the per-key patch is built and applied). The store's own cost is in <see cref="StoreBenchmarks"/>.
/// </summary>
[MemoryDiagnoser]
public class SessionBenchmarks
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private SessionManager _manager = null!;
    private string _cookie = null!;
    private int _counter;

    /// <summary>Keys already in the session besides the one set (the memory store copies them on every patch).</summary>
    [Params(1, 20)]
    public int ExistingKeys { get; set; }

    /// <summary>Stores one session with <see cref="ExistingKeys"/> keys.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _manager = BenchSessions.Manager(new InMemorySessionStore(_clock), _clock);
        var data = Enumerable.Range(0, ExistingKeys).ToDictionary(i => $"key{i}", i => $"\"value {i}\"", StringComparer.Ordinal);
        _cookie = BenchSessions.CreateLiveAsync(_manager, _clock, "alice", data).GetAwaiter().GetResult();
    }

    /// <summary>Open, load, set one key, commit: one load and one patch.</summary>
    [Benchmark]
    public async Task<SessionCommitResult> SetOneKeyAndCommit()
    {
        var session = _manager.Open(_cookie);
        await session.LoadAsync();
        session.Set("counter", ++_counter);
        return await session.CommitAsync();
    }
}
