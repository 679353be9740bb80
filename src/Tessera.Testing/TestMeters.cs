using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Tessera.Testing;

/// <summary>
/// Reading Tessera's metrics in a test with <see cref="MetricCollector{T}"/> (Microsoft.Extensions.Diagnostics.Testing):
/// a meter factory of the test's own, so that tests running in parallel never see each other's measurements, and a
/// collector of one of Tessera's instruments on it.
/// </summary>
public static class TestMeters
{
    /// <summary>
    /// A meter factory of its own (the one <c>AddMetrics()</c> registers), to give to <c>new TesseraMetrics(factory)</c>
    /// and to <see cref="Collect"/>. Dispose it at the end of the test; it disposes its meters.
    /// </summary>
    /// <returns>The factory.</returns>
    public static IMeterFactory CreateFactory()
    {
#pragma warning disable CA2000 // the provider holds nothing but the factory, which the caller disposes
        var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
#pragma warning restore CA2000
        return services.GetRequiredService<IMeterFactory>();
    }

    /// <summary>
    /// Collects what one of Tessera's counters (say <see cref="TesseraMetrics.SessionsRevoked"/>) measures on the meters
    /// of <paramref name="factory"/> (a test's own, or a test server's <c>IMeterFactory</c>) from now on.
    /// </summary>
    /// <param name="factory">The factory whose Tessera meter is watched.</param>
    /// <param name="instrument">The instrument's name.</param>
    /// <returns>The collector; dispose it to stop collecting.</returns>
    public static MetricCollector<long> Collect(IMeterFactory factory, string instrument) =>
        new(factory, TesseraMetrics.MeterName, instrument);

    /// <summary>
    /// Collects what one of Tessera's histograms (say <see cref="TesseraMetrics.StoreOperationDuration"/>) measures; see
    /// <see cref="Collect"/>.
    /// </summary>
    /// <param name="factory">The factory whose Tessera meter is watched.</param>
    /// <param name="instrument">The instrument's name.</param>
    /// <returns>The collector; dispose it to stop collecting.</returns>
    public static MetricCollector<double> CollectHistogram(IMeterFactory factory, string instrument) =>
        new(factory, TesseraMetrics.MeterName, instrument);

    /// <summary>The total of the collected measurements whose tags include every given tag (a counter's value).</summary>
    /// <param name="collector">The collector.</param>
    /// <param name="tags">Tags that must be present with these values; none means every measurement.</param>
    /// <returns>The total; 0 when nothing matched.</returns>
    public static long Sum(this MetricCollector<long> collector, params (string Key, object? Value)[] tags) =>
        Matching(collector, tags).Sum(m => m.Value);

    /// <summary>The collected measurements whose tags include every given tag, in order.</summary>
    /// <typeparam name="T">The instrument's value type.</typeparam>
    /// <param name="collector">The collector.</param>
    /// <param name="tags">Tags that must be present with these values; none means every measurement.</param>
    /// <returns>The measurements.</returns>
    public static IReadOnlyList<CollectedMeasurement<T>> Matching<T>(this MetricCollector<T> collector, params (string Key, object? Value)[] tags)
        where T : struct
    {
        ArgumentNullException.ThrowIfNull(collector);
        ArgumentNullException.ThrowIfNull(tags);
        var wanted = tags.Select(t => new KeyValuePair<string, object?>(t.Key, t.Value)).ToArray();
        return [.. collector.GetMeasurementSnapshot().Where(m => m.ContainsTags(wanted))];
    }
}
