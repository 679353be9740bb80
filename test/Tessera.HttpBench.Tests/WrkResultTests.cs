namespace Tessera.HttpBench.Tests;

/// <summary>The HTTP benchmark's reading of wrk's report, on reports wrk 4.1 printed.</summary>
public class WrkResultTests
{
    private const string Clean = """
        Running 1s test @ http://127.0.0.1:18777/healthz
          2 threads and 20 connections
          Thread Stats   Avg      Stdev     Max   +/- Stdev
            Latency     5.21ms   16.15ms 100.70ms   93.40%
            Req/Sec    10.63k     4.18k   14.96k    85.00%
          Latency Distribution
             50%  745.00us
             75%    1.24ms
             90%    5.28ms
             99%   89.17ms
          21142 requests in 1.00s, 3.49MB read
        Requests/sec:  21112.99
        Transfer/sec:      3.48MB
        """;

    private const string WithFailures = """
        Running 10s test @ http://127.0.0.1:40111/api/refresh
          2 threads and 50 connections
          Thread Stats   Avg      Stdev     Max   +/- Stdev
            Latency   150.20ms  300.10ms    1.20s    90.00%
            Req/Sec     1.10k   200.00      1.50k    70.00%
          Latency Distribution
             50%   20.00ms
             75%   80.50ms
             90%  400.00ms
             99%    1.50s
          21998 requests in 10.10s, 9.10MB read
          Socket errors: connect 0, read 2, write 0, timeout 7
          Non-2xx or 3xx responses: 15
        Requests/sec:   2178.02
        Transfer/sec:      0.90MB
        """;

    [Fact]
    public void ReadsTheRateTheCountAndTheDurationOfACleanRun()
    {
        var result = WrkResult.Parse(Clean);

        Assert.Equal(21112.99, result.RequestsPerSecond);
        Assert.Equal(21142, result.Requests);
        Assert.Equal(1.0, result.Seconds);
        Assert.Equal(0, result.Failures);
    }

    [Fact]
    public void ReadsEveryPercentileInMillisecondsWhateverUnitWrkPrintedItIn()
    {
        var percentiles = WrkResult.Parse(Clean).LatencyPercentilesMs;

        Assert.Equal([50, 75, 90, 99], percentiles.Keys);
        Assert.Equal(0.745, percentiles[50], 6);
        Assert.Equal(1.24, percentiles[75], 6);
        Assert.Equal(89.17, WrkResult.Parse(Clean).P99Ms, 6);
        Assert.Equal(1500, WrkResult.Parse(WithFailures).P99Ms, 6);
    }

    [Fact]
    public void TheThreadStatsLatencyLineIsNotTakenForAPercentile()
    {
        // "Latency 5.21ms ..." above the distribution has several columns; only the distribution's lines count.
        Assert.Equal(4, WrkResult.Parse(Clean).LatencyPercentilesMs.Count);
    }

    [Fact]
    public void CountsNon2xxResponsesAndEverySocketErrorAsFailures()
    {
        var result = WrkResult.Parse(WithFailures);

        Assert.Equal(15, result.Non2xx);
        Assert.Equal(9, result.SocketErrors);
        Assert.Equal(24, result.Failures);
        Assert.Equal(10.1, result.Seconds, 6);
    }

    [Fact]
    public void ARunWithoutTheLatencyFlagHasNoP99()
    {
        var withoutDistribution = string.Join('\n', Clean.Split('\n').Where(l => !l.Contains('%', StringComparison.Ordinal) || l.Contains("Stdev", StringComparison.Ordinal)));

        Assert.True(double.IsNaN(WrkResult.Parse(withoutDistribution).P99Ms));
    }

    [Theory]
    [InlineData("")]
    [InlineData("unable to connect to 127.0.0.1:1 Connection refused")]
    [InlineData("Requests/sec:  100.00")]
    public void TextThatIsNotAWrkReportIsRefused(string output)
    {
        Assert.Throws<FormatException>(() => WrkResult.Parse(output));
    }
}
