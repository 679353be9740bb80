using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Tessera.Testing;

/// <summary>
/// One <see cref="MetricCollector{T}"/> (Microsoft.Extensions.Diagnostics.Testing) for each of Tessera's instruments on
/// one meter factory, for tests that check several of them: the meters of that factory only, so tests running in
/// parallel (each with its own factory or host) never see each other's measurements. Dispose it to stop collecting.
/// </summary>
public sealed class TesseraMetricCollector : IDisposable
{
    private static readonly string[] Counters =
    [
        TesseraMetrics.SessionsCreated, TesseraMetrics.SessionsSignedIn, TesseraMetrics.SessionsRevoked,
        TesseraMetrics.SessionsExpired, TesseraMetrics.StoreErrors, TesseraMetrics.CredentialsRejected,
        TesseraMetrics.TokensGraceAnswered, TesseraMetrics.NearCacheLookups, TesseraMetrics.NearCacheInvalidations,
        TesseraMetrics.CrossOriginRequestsRefused,
    ];

    private readonly Dictionary<string, MetricCollector<long>> _counters;
    private readonly MetricCollector<double> _duration;
    private readonly IMeterFactory? _ownFactory;

    /// <summary>Starts collecting.</summary>
    /// <param name="factory">
    /// Collects from the meters this factory created (say, a test host's <c>IMeterFactory</c>); <see langword="null"/>
    /// makes a factory of its own (<see cref="TestMeters.CreateFactory"/>), <see cref="Factory"/>, to give to
    /// <c>new TesseraMetrics(collector.Factory)</c>, disposed with this collector.
    /// </param>
    public TesseraMetricCollector(IMeterFactory? factory = null)
    {
        if (factory is null)
        {
            _ownFactory = TestMeters.CreateFactory();
            factory = _ownFactory;
        }
        Factory = factory;
        _counters = Counters.ToDictionary(name => name, name => TestMeters.Collect(factory, name), StringComparer.Ordinal);
        _duration = TestMeters.CollectHistogram(factory, TesseraMetrics.StoreOperationDuration);
    }

    /// <summary>The factory whose meters are collected.</summary>
    public IMeterFactory Factory { get; }

    /// <summary>The tags of every measurement collected so far, of every instrument.</summary>
    public IEnumerable<IReadOnlyDictionary<string, object?>> AllTags =>
        _counters.Values.SelectMany(c => c.GetMeasurementSnapshot().Select(m => m.Tags))
            .Concat(_duration.GetMeasurementSnapshot().Select(m => m.Tags));

    /// <summary>The collector of one of Tessera's counters.</summary>
    /// <param name="instrument">The counter's name, say <see cref="TesseraMetrics.SessionsRevoked"/>.</param>
    /// <returns>The collector.</returns>
    /// <exception cref="KeyNotFoundException">The name is not one of Tessera's counters.</exception>
    public MetricCollector<long> Counter(string instrument) => _counters[instrument];

    /// <summary>The collector of <see cref="TesseraMetrics.StoreOperationDuration"/>, Tessera's one histogram.</summary>
    public MetricCollector<double> StoreOperationDuration => _duration;

    /// <summary>A counter's total over the measurements whose tags include every given tag.</summary>
    /// <param name="instrument">The counter's name.</param>
    /// <param name="tags">Tags that must be present with these values; none means every measurement.</param>
    /// <returns>The total; 0 when nothing matched.</returns>
    public long Sum(string instrument, params (string Key, object? Value)[] tags) => Counter(instrument).Sum(tags);

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var counter in _counters.Values)
        {
            counter.Dispose();
        }
        _duration.Dispose();
        _ownFactory?.Dispose();
    }
}
