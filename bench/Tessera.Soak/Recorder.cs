using System.Diagnostics;

namespace Tessera.Soak;

/// <summary>What a request was for, for the per-kind counts and latencies.</summary>
internal enum RequestKind
{
    SignIn,
    Read,
    Write,
    Refresh,
    SignOut,

    /// <summary>Reading a session back to check its acknowledged writes (and, after a sign-out, that the old credential is dead).</summary>
    Verify,
}

/// <summary>A request that did not get the answer it should have.</summary>
/// <param name="Start">Seconds since the run started, when it was sent.</param>
/// <param name="End">Seconds since the run started, when it ended.</param>
/// <param name="Status">The status code, or <c>transport</c> (no HTTP answer) or <c>timeout</c>.</param>
/// <param name="Expected">The status the request should have had.</param>
/// <param name="Note">What was wrong beyond the status, if anything (a wrong user, a missing write).</param>
internal sealed record ErrorRecord(double Start, double End, string Route, string Status, int Expected, string? Note);

/// <summary>
/// Every request of one target: its status counted in the second it was sent (the timeline), its latency by kind, and
/// every unexpected answer with its start and end time. Thread-safe; one lock, as the rates here are hundreds per second.
/// </summary>
internal sealed class Recorder(RunClock clock)
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<int, Dictionary<string, int>> _seconds = [];
    private readonly SortedDictionary<int, int> _errorSeconds = [];
    private readonly Dictionary<RequestKind, List<double>> _latencies = Enum.GetValues<RequestKind>().ToDictionary(k => k, _ => new List<double>());
    private readonly Dictionary<RequestKind, int> _kindErrors = Enum.GetValues<RequestKind>().ToDictionary(k => k, _ => 0);
    private readonly Dictionary<string, int> _statuses = new(StringComparer.Ordinal);
    private readonly List<ErrorRecord> _errors = [];
    private readonly List<double> _goodEnds = [];

    public RunClock Clock => clock;

    public void Record(RequestKind kind, string route, double start, double end, string status, int expected, string? note)
    {
        var second = (int)Math.Floor(start);
        var ok = note is null && status == expected.ToString(System.Globalization.CultureInfo.InvariantCulture);
        lock (_lock)
        {
            if (!_seconds.TryGetValue(second, out var bucket))
            {
                _seconds[second] = bucket = new Dictionary<string, int>(StringComparer.Ordinal);
            }
            bucket[status] = bucket.GetValueOrDefault(status) + 1;
            _statuses[status] = _statuses.GetValueOrDefault(status) + 1;
            _latencies[kind].Add((end - start) * 1000);
            if (ok)
            {
                _goodEnds.Add(end);
            }
            else
            {
                _errorSeconds[second] = _errorSeconds.GetValueOrDefault(second) + 1;
                _kindErrors[kind]++;
                _errors.Add(new ErrorRecord(start, end, route, status, expected, note));
            }
        }
    }

    public IReadOnlyList<ErrorRecord> Errors()
    {
        lock (_lock)
        {
            return [.. _errors];
        }
    }

    public IReadOnlyDictionary<string, int> Statuses()
    {
        lock (_lock)
        {
            return new SortedDictionary<string, int>(_statuses, StringComparer.Ordinal);
        }
    }

    /// <summary>When the first request that got the answer it should have ended at or after <paramref name="from"/>.</summary>
    public double? FirstGoodAnswerAfter(double from)
    {
        lock (_lock)
        {
            var first = _goodEnds.Where(e => e >= from).DefaultIfEmpty(double.NaN).Min();
            return double.IsNaN(first) ? null : first;
        }
    }

    /// <summary>Requests sent in [from, to) seconds that got the answer they should have.</summary>
    public int SuccessesBetween(double from, double to)
    {
        lock (_lock)
        {
            var total = 0;
            foreach (var (second, bucket) in _seconds)
            {
                if (second >= from && second + 1 <= to)
                {
                    total += bucket.Values.Sum() - _errorSeconds.GetValueOrDefault(second);
                }
            }
            return total;
        }
    }

    public List<TimelineSecond> Timeline()
    {
        lock (_lock)
        {
            return [.. _seconds.Select(s => new TimelineSecond(s.Key, s.Value.Values.Sum(), _errorSeconds.GetValueOrDefault(s.Key),
                new SortedDictionary<string, int>(s.Value, StringComparer.Ordinal)))];
        }
    }

    public List<KindSummary> Kinds()
    {
        lock (_lock)
        {
            return [.. _latencies.Where(k => k.Value.Count > 0).Select(k => KindSummary.Of(k.Key, k.Value, _kindErrors[k.Key]))];
        }
    }
}

/// <summary>One second of the timeline: requests sent in it, how many were errors, and every status seen.</summary>
internal sealed record TimelineSecond(int T, int Requests, int Errors, SortedDictionary<string, int> Statuses);

/// <summary>Requests of one kind: count, errors and latency percentiles in milliseconds.</summary>
internal sealed record KindSummary(string Kind, int Requests, int Errors, double P50Ms, double P99Ms, double MaxMs)
{
    public static KindSummary Of(RequestKind kind, List<double> latencies, int errors)
    {
        var sorted = latencies.Order().ToArray();
        double At(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        return new KindSummary(kind.ToString(), sorted.Length, errors, Math.Round(At(0.50), 2), Math.Round(At(0.99), 2), Math.Round(sorted[^1], 2));
    }
}

/// <summary>The run's clock: seconds since the driver started (the set-up included), and the wall-clock instant of that start.</summary>
internal sealed class RunClock
{
    private readonly long _start = Stopwatch.GetTimestamp();

    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    public double Now => Stopwatch.GetElapsedTime(_start).TotalSeconds;

    /// <summary>A wall-clock time (unix milliseconds, as the outage script writes them) in run seconds.</summary>
    public double FromUnixMilliseconds(long unixMs) => (unixMs - StartedAt.ToUnixTimeMilliseconds()) / 1000.0;
}
