namespace Tessera.HttpBench.Tests;

/// <summary>Compas's in-process refresh as the bench reads it, and the refresh target measured against it round by round.</summary>
public class CompasComparisonTests
{
    private static readonly Variant Postgres = Variant.All.Single(v => v.Id == "postgres");
    private static readonly Variant Compas = Variant.All.Single(v => v.Id == "compas");
    private static readonly CpuShare NoCpu = new(0, 0, 0, 0, 0);

    [Fact]
    public void ReadsTheDriversResultLine()
    {
        var result = CompasRefresh.Parse("""{"requests":5400,"failures":2,"seconds":9.0,"latencyMs":{"50":60.5,"75":80,"90":95,"99":130.25}}""");

        Assert.Equal(5400, result.Requests);
        Assert.Equal(600, result.RequestsPerSecond);
        Assert.Equal(130.25, result.P99Ms);
        Assert.Equal(2, result.Failures);
    }

    [Fact]
    public void TheDriversErrorReportIsAnErrorNotAResult()
    {
        var failure = Assert.Throws<InvalidOperationException>(() => CompasRefresh.Parse("""{"error":"sessionStoreCreate failed: store.sessionStoreCreate.invalidSession"}"""));
        Assert.Contains("sessionStoreCreate failed", failure.Message, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => CompasRefresh.Parse("""{"ready":true}"""));
    }

    [Fact]
    public void TheRefreshTargetIsTheMedianOfEachRoundsMultipleOfCompasInThatRound()
    {
        // Round 1: 3,000 against 500 (6 ×); round 2: 2,000 against 500 (4 ×); round 3: 2,750 against 550 (5 ×). The rates'
        // medians (2,750 against 500) would say 5.5 ×; the rounds' median says 5 ×.
        var measurements = new List<Measurement>();
        foreach (var (round, tessera, compas) in new[] { (1, 3000.0, 500.0), (2, 2000.0, 500.0), (3, 2750.0, 550.0) })
        {
            measurements.Add(Run(Postgres, Route.Health, round, 20_000));
            measurements.Add(Run(Postgres, Route.Refresh, round, tessera) with { Statements = new StatementShare(round, 100 * round) });
            measurements.Add(Run(Compas, Route.CompasRefresh, round, compas));
        }

        var rows = Report.Summarize(measurements);

        var refresh = rows.Single(r => r.Variant == Postgres && r.Route == Route.Refresh);
        Assert.Equal(5.0, refresh.TimesCompas, 3);
        Assert.Equal("yes", refresh.Met);
        Assert.Contains("≥ 5 × Compas: 5.0 ×", refresh.TargetText, StringComparison.Ordinal);
        Assert.Equal(new StatementShare(2, 200), refresh.Statements); // medians of what PostgreSQL ran per request
        Assert.Contains("| 2.00 / 200 µs |", Report.Markdown(rows), StringComparison.Ordinal);
        var compasRow = rows.Single(r => r.Variant == Compas);
        Assert.True(double.IsNaN(compasRow.Ratio)); // no /healthz to be a ratio of
        Assert.Contains("| Compas 0.5.5 (in process) | `refresh in process` | 500 |", Report.Markdown(rows), StringComparison.Ordinal);
    }

    [Fact]
    public void WithoutACompasMeasurementTheRefreshTargetIsNotMet()
    {
        var rows = Report.Summarize([Run(Postgres, Route.Health, 1, 20_000), Run(Postgres, Route.Refresh, 1, 1_000_000)]);

        var refresh = rows.Single(r => r.Route == Route.Refresh);
        Assert.Equal("no", refresh.Met);
        Assert.Contains("not measured", refresh.TargetText, StringComparison.Ordinal);
    }

    private static Measurement Run(Variant variant, Route route, int round, double perSecond) =>
        new(variant, route, round, new WrkResult((long)(perSecond * 10), 10, perSecond, new Dictionary<int, double> { [99] = 10 }, 0, 0), NoCpu);
}
