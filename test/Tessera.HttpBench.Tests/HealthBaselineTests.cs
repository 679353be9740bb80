namespace Tessera.HttpBench.Tests;

/// <summary>
/// A round's /healthz baseline: the mean of the runs that open and close a variant's turn, so a route's ratio does not
/// rest on one 10-second sample of a machine whose speed moves within a minute.
/// </summary>
public class HealthBaselineTests
{
    private static readonly Variant Memory = Variant.All.Single(v => v.Id == "memory");
    private static readonly CpuShare NoCpu = new(0, 0, 0, 0, 0);

    [Fact]
    public void ARoutesRatioIsToTheMeanOfTheOpeningAndClosingHealthRuns()
    {
        // Round 1: /healthz 48,000 then 32,000 (mean 40,000), GET /me 36,000: 0.90, not the 0.75 the opening run alone gives.
        // Round 2: 40,000 and 40,000, GET /me 34,000: 0.85. Round 3: 30,000 and 34,000 (mean 32,000), GET /me 30,400: 0.95.
        var measurements = new List<Measurement>();
        foreach (var (round, opening, closing, me) in new[] { (1, 48_000.0, 32_000.0, 36_000.0), (2, 40_000.0, 40_000.0, 34_000.0), (3, 30_000.0, 34_000.0, 30_400.0) })
        {
            measurements.Add(Run(Route.Health, round, opening));
            measurements.Add(Run(Route.Me, round, me));
            measurements.Add(Run(Route.Health, round, closing) with { Closing = true });
        }

        var rows = Report.Summarize(measurements);

        var row = rows.Single(r => r.Route == Route.Me);
        Assert.Equal(0.90, row.Ratio, 6);
        Assert.Equal(0.85, row.RatioMin, 6);
        Assert.Equal(0.95, row.RatioMax, 6);
        var health = rows.Single(r => r.Route == Route.Health);
        Assert.Equal(3, health.Rounds); // one baseline per round, not one per run
        Assert.Equal(1.0, health.Ratio);
        Assert.Equal(40_000, health.RequestsPerSecond); // the median of the rounds' means (40,000, 40,000, 32,000)
        Assert.Equal(health.Requests, measurements.Where(m => m.Route == Route.Health).Sum(m => m.Result.Requests));
        // The markdown shows how far the closing run moved from the opening one: 32/48 to 34/30.
        Assert.Contains("| closing ÷ opening 0.67–1.13 |", Report.Markdown(rows), StringComparison.Ordinal);
        Assert.Contains("the mean of its runs before and after the routes", Chart.Svg(rows, "title", "subtitle"), StringComparison.Ordinal);
    }

    [Fact]
    public void ResultsWithOneHealthRunPerRoundReadAsBefore()
    {
        var rows = Report.Summarize([Run(Route.Health, 1, 40_000), Run(Route.Me, 1, 30_000), Run(Route.Health, 2, 50_000), Run(Route.Me, 2, 40_000)]);

        var row = rows.Single(r => r.Route == Route.Me);
        Assert.Equal(0.775, row.Ratio, 6); // the median of 0.75 and 0.80
        var health = rows.Single(r => r.Route == Route.Health);
        Assert.True(double.IsNaN(health.RatioMin)); // no closing run: no drift to show
        Assert.DoesNotContain("closing", Report.Markdown(rows), StringComparison.Ordinal);
        Assert.DoesNotContain("before and after", Chart.Svg(rows, "title", "subtitle"), StringComparison.Ordinal);
    }

    [Fact]
    public void TheClosingRunSurvivesTheRoundTripThroughResultsJson()
    {
        var path = Path.Combine(Path.GetTempPath(), $"tessera-httpbench-{Guid.NewGuid():N}.json");
        try
        {
            Measurement[] measured = [Run(Route.Health, 1, 40_000), Run(Route.Me, 1, 30_000), Run(Route.Health, 1, 20_000) with { Closing = true }];
            new Results("now", "machine", "settings", "command", false, [], [.. measured.Select(Results.Record)]).Save(path);

            var read = Results.Load(path).Measurements();

            Assert.Equal([false, false, true], read.Select(m => m.Closing));
            Assert.Equal(1.0, Report.Summarize(read).Single(r => r.Route == Route.Me).Ratio, 6); // 30,000 over the mean 30,000
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static Measurement Run(Route route, int round, double perSecond) =>
        new(Memory, route, round, new WrkResult((long)(perSecond * 10), 10, perSecond, new Dictionary<int, double> { [99] = 10 }, 0, 0), NoCpu);
}
