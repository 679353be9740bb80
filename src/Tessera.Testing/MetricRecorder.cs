using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Tessera.Testing;

/// <summary>
/// Records what Tessera's instruments measure, for tests: a <see cref="MeterListener"/> on the <c>Tessera</c> meters of
/// one <see cref="IMeterFactory"/> only, so tests running in parallel (each with its own factory or host) never see each
/// other's measurements. Thread-safe; dispose it to stop listening. Kept for one release: use
/// <see cref="Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector{T}"/> (through <see cref="TestMeters"/>
/// or <see cref="TesseraMetricCollector"/>) instead.
/// </summary>
[Obsolete("Use MetricCollector<T> from Microsoft.Extensions.Diagnostics.Testing (TestMeters.Collect, or TesseraMetricCollector for several of Tessera's instruments); MetricRecorder will be removed in the next release.")]
public sealed class MetricRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<RecordedMeasurement> _measurements = new();
    private readonly OwnMeterFactory? _ownFactory;

    /// <summary>Starts recording.</summary>
    /// <param name="factory">
    /// Records the meters this factory created (say, a test host's <c>IMeterFactory</c>); <see langword="null"/> makes a
    /// private factory, <see cref="Factory"/>, to give to <c>new TesseraMetrics(recorder.Factory)</c>.
    /// </param>
    public MetricRecorder(IMeterFactory? factory = null)
    {
        if (factory is null)
        {
            _ownFactory = new OwnMeterFactory();
            factory = _ownFactory;
        }
        Factory = factory;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == TesseraMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, Factory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>The factory whose meters are recorded.</summary>
    public IMeterFactory Factory { get; }

    /// <summary>Everything recorded so far, in order.</summary>
    public IReadOnlyList<RecordedMeasurement> Measurements => [.. _measurements];

    /// <summary>The measurements of one instrument whose tags include every given tag.</summary>
    /// <param name="instrument">The instrument name, say <c>tessera.sessions.revoked</c>.</param>
    /// <param name="tags">Tags that must be present with these values.</param>
    /// <returns>The matching measurements, in order.</returns>
    public IReadOnlyList<RecordedMeasurement> Of(string instrument, params (string Key, object? Value)[] tags) =>
        [.. _measurements.Where(m => m.Instrument == instrument && tags.All(t => m.Tags.TryGetValue(t.Key, out var v) && Equals(v, t.Value)))];

    /// <summary>The sum of the matching measurements (a counter's total).</summary>
    /// <param name="instrument">The instrument name.</param>
    /// <param name="tags">Tags that must be present with these values.</param>
    /// <returns>The sum; 0 when nothing matched.</returns>
    public double Sum(string instrument, params (string Key, object? Value)[] tags) => Of(instrument, tags).Sum(m => m.Value);

    /// <inheritdoc />
    public void Dispose()
    {
        _listener.Dispose();
        _ownFactory?.Dispose();
    }

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, tagValue) in tags)
        {
            copy[key] = tagValue;
        }
        _measurements.Enqueue(new RecordedMeasurement(instrument.Name, value, copy));
    }

    private sealed class OwnMeterFactory : IMeterFactory
    {
        private readonly ConcurrentBag<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options.Name, options.Version, options.Tags, scope: this);
            _meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var meter in _meters)
            {
                meter.Dispose();
            }
        }
    }
}

/// <summary>One measurement a <see cref="MetricRecorder"/> saw. Kept for one release, with <see cref="MetricRecorder"/>.</summary>
/// <param name="Instrument">The instrument's name.</param>
/// <param name="Value">The value (counters' increments, histograms' samples).</param>
/// <param name="Tags">The tags it was recorded with.</param>
[Obsolete("Use MetricCollector<T> and its CollectedMeasurement<T> from Microsoft.Extensions.Diagnostics.Testing; RecordedMeasurement will be removed in the next release.")]
public sealed record RecordedMeasurement(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags);
