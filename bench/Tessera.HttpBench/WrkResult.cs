using System.Globalization;
using System.Text.RegularExpressions;

namespace Tessera.HttpBench;

/// <summary>What one wrk run reported (wrk 4.x text output, run with <c>--latency</c>).</summary>
internal sealed partial record WrkResult(
    long Requests,
    double Seconds,
    double RequestsPerSecond,
    IReadOnlyDictionary<int, double> LatencyPercentilesMs,
    long Non2xx,
    long SocketErrors)
{
    /// <summary>The 99th percentile latency in milliseconds, or NaN when wrk printed no distribution.</summary>
    public double P99Ms => LatencyPercentilesMs.TryGetValue(99, out var p99) ? p99 : double.NaN;

    /// <summary>Requests that got no 2xx or 3xx answer, or none at all (socket errors and timeouts).</summary>
    public long Failures => Non2xx + SocketErrors;

    /// <summary>
    /// Reads wrk's report. "Requests/sec" and the request count are required; the latency distribution, the socket
    /// error line and the non-2xx line are optional (wrk leaves the last two out when they are zero).
    /// </summary>
    /// <exception cref="FormatException">The text is not a wrk report (wrk failed, or printed something else).</exception>
    public static WrkResult Parse(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var rate = RateLine().Match(output);
        var total = TotalLine().Match(output);
        if (!rate.Success || !total.Success)
        {
            throw new FormatException("Not a wrk report: no \"Requests/sec\" or \"N requests in T\" line.");
        }

        var percentiles = new SortedDictionary<int, double>();
        var distribution = output.IndexOf("Latency Distribution", StringComparison.Ordinal);
        if (distribution >= 0)
        {
            foreach (Match line in PercentileLine().Matches(output[distribution..]))
            {
                percentiles[int.Parse(line.Groups["p"].Value, CultureInfo.InvariantCulture)] = Milliseconds(line.Groups["v"].Value, line.Groups["u"].Value);
            }
        }

        long socketErrors = 0;
        if (SocketErrorsLine().Match(output) is { Success: true } errors)
        {
            foreach (var name in new[] { "connect", "read", "write", "timeout" })
            {
                socketErrors += long.Parse(errors.Groups[name].Value, CultureInfo.InvariantCulture);
            }
        }
        var non2xx = Non2xxLine().Match(output) is { Success: true } bad ? long.Parse(bad.Groups[1].Value, CultureInfo.InvariantCulture) : 0;

        return new WrkResult(
            long.Parse(total.Groups["n"].Value, CultureInfo.InvariantCulture),
            ToSeconds(total.Groups["t"].Value, total.Groups["u"].Value),
            double.Parse(rate.Groups[1].Value, CultureInfo.InvariantCulture),
            percentiles,
            non2xx,
            socketErrors);
    }

    // wrk prints times with the largest unit that keeps the number at least 1: us, ms, s, m, h.
    private static double Milliseconds(string value, string unit) =>
        double.Parse(value, CultureInfo.InvariantCulture) * unit switch
        {
            "us" => 0.001,
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => throw new FormatException($"Unknown time unit \"{unit}\" in wrk's output."),
        };

    private static double ToSeconds(string value, string unit) => Milliseconds(value, unit) / 1_000;

    [GeneratedRegex(@"^Requests/sec:\s+([0-9.]+)\s*$", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex RateLine();

    [GeneratedRegex(@"^\s*(?<n>[0-9]+) requests in (?<t>[0-9.]+)(?<u>us|ms|s|m|h),", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex TotalLine();

    [GeneratedRegex(@"^\s+(?<p>[0-9]+)%\s+(?<v>[0-9.]+)(?<u>us|ms|s|m|h)\s*$", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex PercentileLine();

    [GeneratedRegex(@"Socket errors: connect (?<connect>[0-9]+), read (?<read>[0-9]+), write (?<write>[0-9]+), timeout (?<timeout>[0-9]+)", RegexOptions.CultureInvariant)]
    private static partial Regex SocketErrorsLine();

    [GeneratedRegex(@"Non-2xx or 3xx responses:\s+([0-9]+)", RegexOptions.CultureInvariant)]
    private static partial Regex Non2xxLine();
}
