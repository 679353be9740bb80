using System.Globalization;
using System.Text;

namespace Tessera.HttpBench;

/// <summary>One row of the results: a route of a variant, medians over the rounds.</summary>
/// <param name="TimesCompas">The median over rounds of this route's rate over Compas's in-process refresh rate in the same round; NaN without one.</param>
/// <param name="Statements">Medians of what PostgreSQL ran per request (statements, execution µs); null off PostgreSQL.</param>
/// <param name="RatioMin">The lowest round's ratio; for /healthz, the lowest closing-over-opening rate of a round (NaN without both).</param>
/// <param name="RatioMax">The highest round's ratio; for /healthz, the highest closing-over-opening rate of a round.</param>
internal sealed record Row(Variant Variant, Route Route, int Rounds, double RequestsPerSecond, double P99Ms, double Ratio, double RatioMin, double RatioMax, CpuShare Cpu, long Requests, long Failures, double TimesCompas = double.NaN, StatementShare? Statements = null)
{
    public Target? Target => Variant.Targets.TryGetValue(Route, out var target) ? target : null;

    /// <summary>"yes", "no", or "" when the row has no goal.</summary>
    public string Met => Target is { IsGoal: true } target ? target.MetBy(Ratio, RequestsPerSecond, TimesCompas) ? "yes" : "no" : "";

    public string TargetText => Target switch
    {
        { Ratio: { } ratio } => string.Create(CultureInfo.InvariantCulture, $"≥ {ratio:0.00}"),
        { TimesCompas: { } multiple } => double.IsNaN(TimesCompas)
            ? string.Create(CultureInfo.InvariantCulture, $"≥ {multiple:0} × Compas (not measured)")
            : string.Create(CultureInfo.InvariantCulture, $"≥ {multiple:0} × Compas: {TimesCompas:0.0} ×"),
        { RequestsPerSecond: { } rate } t => string.Create(CultureInfo.InvariantCulture, $"≥ {rate:N0}/s ({t.Note})"),
        { } t => t.Note,
        null => "",
    };
}

/// <summary>Turns measurements into rows, and rows into the console table, the markdown and the JSON.</summary>
internal static class Report
{
    /// <summary>
    /// Medians over the rounds. The ratio is taken per round (the route over /healthz of the same process in the same
    /// round) and its median reported, so a round that was slow for everything does not move it. A round's /healthz is
    /// the mean of the runs that open and close the variant's turn (results from before the closing run have only the
    /// opening one), and the /healthz row's rate is the median of those per-round means.
    /// </summary>
    public static List<Row> Summarize(IReadOnlyList<Measurement> measurements)
    {
        var rows = new List<Row>();
        var compas = measurements.Where(m => m.Variant.IsCompas).ToDictionary(m => m.Round, m => m.Result.RequestsPerSecond);
        foreach (var variant in measurements.Select(m => m.Variant).Distinct())
        {
            var health = measurements.Where(m => m.Variant == variant && m.Route == Route.Health)
                .GroupBy(m => m.Round).ToDictionary(g => g.Key, g => g.Average(m => m.Result.RequestsPerSecond));
            foreach (var route in variant.Routes)
            {
                var runs = measurements.Where(m => m.Variant == variant && m.Route == route).ToList();
                if (runs.Count == 0)
                {
                    continue;
                }
                var rates = route == Route.Health ? [.. health.Values] : runs.Select(m => m.Result.RequestsPerSecond).ToList();
                var ratios = route == Route.Health
                    ? [.. health.Values.Select(_ => 1.0)]
                    : runs.Where(m => health.ContainsKey(m.Round)).Select(m => m.Result.RequestsPerSecond / health[m.Round]).ToList();
                // The /healthz row's range is how far the closing run landed from the opening one, round by round.
                var spread = route == Route.Health ? Drift(runs) : ratios;
                rows.Add(new Row(
                    variant,
                    route,
                    rates.Count,
                    Median(rates),
                    Median(runs.Select(m => m.Result.P99Ms)),
                    ratios.Count == 0 ? double.NaN : Median(ratios),
                    spread.Count == 0 ? double.NaN : spread.Min(),
                    spread.Count == 0 ? double.NaN : spread.Max(),
                    // Store CPU is never negative (results.json from before per-process accounting could hold a backend that ended).
                    new CpuShare(Median(runs.Select(m => m.Cpu.Machine)), Median(runs.Select(m => m.Cpu.Server)), Median(runs.Select(m => Math.Max(0, m.Cpu.Store))),
                        Median(runs.Select(m => m.Cpu.Wrk)), Median(runs.Select(m => m.Cpu.Interrupts))),
                    runs.Sum(m => m.Result.Requests),
                    runs.Sum(m => m.Result.Failures),
                    Median(runs.Where(m => compas.GetValueOrDefault(m.Round) > 0).Select(m => m.Result.RequestsPerSecond / compas[m.Round])),
                    runs.Any(m => m.Statements is not null)
                        ? new StatementShare(Median(runs.Select(m => m.Statements?.PerRequest ?? double.NaN)), Median(runs.Select(m => m.Statements?.ExecutionMicrosecondsPerRequest ?? double.NaN)))
                        : null));
            }
        }
        return rows;
    }

    // Each round's closing /healthz over its opening one, for the rounds that have both.
    private static List<double> Drift(IEnumerable<Measurement> health) =>
    [
        .. health.GroupBy(m => m.Round)
            .Where(g => g.Any(m => m.Closing) && g.Any(m => !m.Closing))
            .Select(g => g.First(m => m.Closing).Result.RequestsPerSecond / g.First(m => !m.Closing).Result.RequestsPerSecond),
    ];

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }
        var middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    public static string Milliseconds(double ms) => double.IsNaN(ms) ? "-" : ms switch
    {
        < 1 => string.Create(CultureInfo.InvariantCulture, $"{ms * 1000:0} µs"),
        < 10 => string.Create(CultureInfo.InvariantCulture, $"{ms:0.00} ms"),
        < 100 => string.Create(CultureInfo.InvariantCulture, $"{ms:0.0} ms"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{ms:0} ms"),
    };

    public static string Text(IReadOnlyList<Row> rows)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{"variant",-26} {"route",-18} {"req/s",9} {"p99",10} {"ratio",6}  {"target",-34} {"met",-4} failed");
        foreach (var row in rows)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{row.Variant.Label,-26} {row.Route.Id,-18} {row.RequestsPerSecond,9:N0} {Milliseconds(row.P99Ms),10} {RatioText(row),6}  {row.TargetText,-34} {row.Met,-4} {row.Failures}");
        }
        return text.ToString();
    }

    private static string StatementsText(Row row) => row.Statements is { } s
        ? string.Create(CultureInfo.InvariantCulture, $"{s.PerRequest:0.00} / {s.ExecutionMicrosecondsPerRequest:0} µs")
        : "";

    // Compas's in-process row has no /healthz to be a ratio of.
    private static string RatioText(Row row) => double.IsNaN(row.Ratio) ? "-" : row.Ratio.ToString("0.00", CultureInfo.InvariantCulture);

    // For /healthz: the closing run over the opening one (its ratio is 1 by definition).
    private static string Range(Row row) => double.IsNaN(row.RatioMin) ? "" : row.Route == Route.Health
        ? string.Create(CultureInfo.InvariantCulture, $"closing ÷ opening {row.RatioMin:0.00}–{row.RatioMax:0.00}")
        : row.Rounds < 2 ? "" : string.Create(CultureInfo.InvariantCulture, $"{row.RatioMin:0.00}–{row.RatioMax:0.00}");

    // Memory and SQLite run inside the app process, and AddSession has no store of its own.
    private static string Store(Row row) =>
        row.Variant.NeedsPostgres || row.Variant.NeedsRedis ? row.Cpu.Store.ToString("0.00", CultureInfo.InvariantCulture) : "in app";

    public static string Markdown(IReadOnlyList<Row> rows)
    {
        var text = new StringBuilder();
        text.AppendLine("| variant | route | req/s | p99 | ratio to /healthz | rounds' range | target | met | cores busy: app / store / wrk / other | PostgreSQL per request: statements / execution |");
        text.AppendLine("| --- | --- | ---: | ---: | ---: | --- | --- | --- | --- | --- |");
        foreach (var row in rows)
        {
            var failures = row.Failures > 0 ? string.Create(CultureInfo.InvariantCulture, $" ({row.Failures:N0} of {row.Requests:N0} failed)") : "";
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {row.Variant.Label} | `{row.Route.Id}` | {row.RequestsPerSecond:N0}{failures} | {Milliseconds(row.P99Ms)} | {RatioText(row)} | {Range(row)} | {row.TargetText} | {row.Met} | {row.Cpu.Server:0.00} / {Store(row)} / {row.Cpu.Wrk:0.00} / {row.Cpu.Rest:0.00} | {StatementsText(row)} |");
        }
        return text.ToString();
    }
}
