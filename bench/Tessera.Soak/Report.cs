using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Tessera.Soak;

/// <summary>Sessions with writes acknowledged before the first outage and read back after the last one.</summary>
internal sealed record BeforeOutage(int Sessions, int Writes, int Lost);

/// <summary>Everything measured for one target, as printed and as written to the JSON file.</summary>
internal sealed class TargetSummary
{
    public required string Name { get; init; }

    public required string Url { get; init; }

    public int? Pid { get; init; }

    public string? StoreKind { get; init; }

    public string? StoreUnit { get; init; }

    public int Requests { get; init; }

    public double RequestsPerSecond { get; init; }

    public int Errors { get; init; }

    public required IReadOnlyDictionary<string, int> Statuses { get; init; }

    public required IReadOnlyList<KindSummary> Kinds { get; init; }

    public int SignIns { get; init; }

    public int SignOuts { get; init; }

    public int Abandoned { get; init; }

    public int SetAside { get; init; }

    public int SessionsReadBack { get; init; }

    public int UnreadSessions { get; init; }

    public int AckedWrites { get; init; }

    public int LostWrites { get; init; }

    public double MaxSessionGapSeconds { get; init; }

    public BeforeOutage? WrittenBeforeOutage { get; init; }

    public int ErrorsInsideOutages { get; init; }

    public int ErrorsOutsideOutages { get; init; }

    public required IReadOnlyDictionary<string, int> InsideByStatus { get; init; }

    /// <summary>The latest end of an outage error after its server came back, in seconds.</summary>
    public double? RecoverySeconds { get; init; }

    /// <summary>Per outage, seconds from the server being back to the first good answer (the reconnection, as clients see it).</summary>
    public IReadOnlyList<double> FirstGoodAnswerSeconds { get; init; } = [];

    public Flatness? Memory { get; init; }

    public Flatness? Store { get; init; }

    public Flatness? StoreSessions { get; init; }

    public required IReadOnlyList<Anomaly> Anomalies { get; init; }

    public required IReadOnlyList<Verification> LostDetails { get; init; }

    /// <summary>The first unexpected answers (at most 200), with their times.</summary>
    public required IReadOnlyList<ErrorRecord> ErrorSample { get; init; }

    /// <summary>With outages: the unexpected answers outside every outage window (at most 500).</summary>
    public required IReadOnlyList<ErrorRecord> ErrorsOutside { get; init; }

    public required IReadOnlyList<Sample> Samples { get; init; }

    public required IReadOnlyList<TimelineSecond> Timeline { get; init; }

    public List<Check> Checks { get; } = [];

    public static TargetSummary Of(TargetRun run, SoakOptions options, double start, double end, IReadOnlyList<OutageWindow> windows)
    {
        var errors = run.Recorder.Errors();
        var mine = windows.Where(w => w.Target == run.Spec.Name).ToList();
        bool Inside(ErrorRecord e) => mine.Any(w => e.End >= w.Down && e.Start <= w.Up + options.ReconnectMargin);
        var inside = errors.Where(Inside).ToList();
        var verifications = run.Verifications;
        var samples = run.Samples;
        // Steady state: a typical rotating session has lived and ended (its requests over the slot's share of the
        // rate), then idled out, then been collected by cleanup.
        var warmUp = options.IdleTimeout + 2 * options.CleanupInterval
            + (options.MinSessionRequests + options.MaxSessionRequests) / 2.0 * options.Slots / options.Rate;
        var statuses = run.Recorder.Statuses();
        var requests = statuses.Values.Sum();
        var trafficRequests = run.Recorder.Timeline().Where(s => s.T >= Math.Floor(start) && s.T < end).Sum(s => s.Requests);

        BeforeOutage? before = null;
        if (mine.Count > 0)
        {
            var firstDown = mine.Min(w => w.Down);
            var lastUp = mine.Max(w => w.Up);
            var read = verifications.Where(v => v.At > lastUp && v.Acked.Any(a => a.At < firstDown)).ToList();
            before = new BeforeOutage(read.Count, read.Sum(v => v.Acked.Count(a => a.At < firstDown)), read.Sum(v => v.Lost.Count(a => a.At < firstDown)));
        }
        double? recovery = inside.Count == 0 ? null : inside.Max(e => e.End - mine.Where(w => e.End >= w.Down).Max(w => w.Up));

        List<(double, double)> Points(Func<Sample, double?> value) =>
            [.. samples.Where(s => value(s) is not null).Select(s => (s.T, value(s)!.Value))];
        var rss = Points(s => s.RssKb);
        var size = Points(s => s.Store?.Size);
        var sessions = Points(s => s.Store?.Sessions);

        return new TargetSummary
        {
            Name = run.Spec.Name,
            Url = run.Spec.Url.ToString(),
            Pid = run.Spec.Pid,
            StoreKind = run.Spec.StoreKind,
            StoreUnit = run.Probe?.Unit,
            Requests = requests,
            RequestsPerSecond = Math.Round(trafficRequests / Math.Max(end - start, 1e-9), 1),
            Errors = errors.Count,
            Statuses = statuses,
            Kinds = run.Recorder.Kinds(),
            SignIns = run.SignIns,
            SignOuts = run.SignOuts,
            Abandoned = run.Abandoned,
            SetAside = run.Retired,
            SessionsReadBack = verifications.Count(v => v.Failure is null),
            UnreadSessions = verifications.Count(v => v.Failure is not null),
            AckedWrites = verifications.Sum(v => v.Acked.Count),
            LostWrites = verifications.Sum(v => v.Lost.Count),
            MaxSessionGapSeconds = Math.Round(run.MaxSessionGap, 1),
            WrittenBeforeOutage = before,
            ErrorsInsideOutages = inside.Count,
            ErrorsOutsideOutages = errors.Count - inside.Count,
            InsideByStatus = new SortedDictionary<string, int>(inside.GroupBy(e => e.Note is null ? e.Status : e.Status + " with a wrong body").ToDictionary(g => g.Key, g => g.Count()), StringComparer.Ordinal),
            RecoverySeconds = recovery is { } r ? Math.Round(r, 2) : null,
            FirstGoodAnswerSeconds = [.. mine.Select(w => run.Recorder.FirstGoodAnswerAfter(w.Up) is { } at ? Math.Round(at - w.Up, 2) : double.NaN).Where(d => !double.IsNaN(d))],
            Memory = rss.Count == 0 ? null : Flatness.Of("RSS (kB)", rss, start, end, warmUp, options.FlatTolerance),
            Store = size.Count == 0 ? null : Flatness.Of("store size", size, start, end, warmUp, options.FlatTolerance),
            StoreSessions = sessions.Count == 0 ? null : Flatness.Of("sessions in the store", sessions, start, end, warmUp, options.FlatTolerance),
            Anomalies = run.Anomalies,
            LostDetails = [.. verifications.Where(v => v.Lost.Count > 0).Take(50)],
            ErrorSample = [.. errors.Take(200)],
            ErrorsOutside = mine.Count == 0 ? [] : [.. errors.Where(e => !Inside(e)).Take(500)],
            Samples = samples,
            Timeline = run.Recorder.Timeline(),
        };
    }
}

/// <summary>The whole run as written to the JSON file.</summary>
internal sealed record RunResults(
    string Mode, string StartedAt, double TrafficStart, double TrafficEnd, string Settings, IReadOnlyList<OutageWindow> Outages,
    IReadOnlyList<TargetSummary> Targets, bool Passed)
{
    private static readonly JsonSerializerOptions Indented = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public void Save(string path)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } directory)
        {
            Directory.CreateDirectory(directory);
        }
        File.WriteAllText(path, JsonSerializer.Serialize(this, Indented));
    }

    /// <summary>The human summary: per target, traffic, sessions, writes, memory, store, errors and checks.</summary>
    public string Text()
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"{Mode} run, {TrafficEnd - TrafficStart:0} s of traffic from t = {TrafficStart:0.0} s ({StartedAt}); {Settings}");
        foreach (var window in Outages)
        {
            text.AppendLine(c, $"outage: {window.Target} down at t = {window.Down:0.0} s, back at {window.Up:0.0} s ({window.Up - window.Down:0.0} s)");
        }
        foreach (var t in Targets)
        {
            text.AppendLine();
            text.AppendLine(c, $"== {t.Name} ({t.StoreKind ?? "store not sampled"}, {t.Url}, pid {t.Pid?.ToString(c) ?? "-"})");
            text.AppendLine(c, $"requests: {t.Requests:N0} ({t.RequestsPerSecond:0.0}/s during the traffic); statuses: {string.Join(", ", t.Statuses.Select(s => $"{s.Key} × {s.Value:N0}"))}");
            text.AppendLine(string.Create(c, $"unexpected answers: {t.Errors:N0}") + (Outages.Count > 0 ? string.Create(c, $" ({t.ErrorsInsideOutages:N0} during an outage, {t.ErrorsOutsideOutages:N0} outside)") : ""));
            foreach (var k in t.Kinds)
            {
                text.AppendLine(c, $"  {k.Kind,-8} {k.Requests,8:N0} requests, {k.Errors,6:N0} errors, p50 {k.P50Ms,7:0.0} ms, p99 {k.P99Ms,7:0.0} ms, max {k.MaxMs,8:0.0} ms");
            }
            text.AppendLine(c, $"sessions: {t.SignIns:N0} signed in, {t.SignOuts:N0} signed out, {t.Abandoned:N0} abandoned to expire, {t.SetAside:N0} set aside; longest gap between two good answers of one session {t.MaxSessionGapSeconds:0.0} s");
            text.AppendLine(string.Create(c, $"writes: {t.AckedWrites:N0} acknowledged in {t.SessionsReadBack:N0} sessions read back, {t.LostWrites:N0} not found")
                + (t.UnreadSessions > 0 ? string.Create(c, $", {t.UnreadSessions} sessions unreadable") : ""));
            if (t.WrittenBeforeOutage is { } b)
            {
                text.AppendLine(c, $"written before the outage, read back after it: {b.Sessions} sessions, {b.Writes} writes, {b.Lost} lost");
            }
            AppendFlat(text, "memory (RSS, kB)", t.Memory, t.Samples.Select(s => (double?)s.RssKb));
            AppendFlat(text, $"store ({t.StoreUnit})", t.Store, t.Samples.Select(s => (double?)s.Store?.Size));
            AppendFlat(text, "sessions in the store (live, revoked and expired until collected)", t.StoreSessions, t.Samples.Select(s => (double?)s.Store?.Sessions));
            foreach (var anomaly in t.Anomalies.Take(10))
            {
                text.AppendLine(c, $"anomaly at t = {anomaly.At:0.0} s: {anomaly.What}");
            }
            foreach (var error in (t.ErrorsOutside.Count > 0 ? t.ErrorsOutside : t.ErrorSample).Take(10))
            {
                text.AppendLine(c, $"error at t = {error.Start:0.00}..{error.End:0.00} s: {error.Route} answered {error.Status} (expected {error.Expected}){(error.Note is null ? "" : ": " + error.Note)}");
            }
            foreach (var check in t.Checks)
            {
                text.AppendLine(c, $"  [{check.Verdict}] {check.Name}: {check.Detail}");
            }
        }
        text.AppendLine();
        text.AppendLine(Passed ? "result: every judged check passed" : "result: FAILED");
        return text.ToString();
    }

    private static void AppendFlat(StringBuilder text, string what, Flatness? flat, IEnumerable<double?> values)
    {
        var seen = values.Where(v => v is not null).Select(v => v!.Value).ToList();
        if (flat is null || seen.Count == 0)
        {
            return;
        }
        text.AppendLine(CultureInfo.InvariantCulture,
            $"{what}: first {seen[0]:N0}, middle-third mean {flat.MiddleMean:N0}, last-third mean {flat.LastMean:N0}, max {flat.Max:N0}, slope over the last two thirds {flat.SlopePerMinute:0.##}/min");
    }
}
