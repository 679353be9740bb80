using System.Globalization;

namespace Tessera.Soak;

/// <summary>A check's outcome. "not judged" is neither: the run could not tell (too short, nothing sampled).</summary>
internal sealed record Check(string Target, string Name, string Verdict, string Detail)
{
    public const string Pass = "pass";
    public const string Fail = "FAIL";
    public const string NotJudged = "not judged";

    public static Check Of(string target, string name, bool passed, string detail) => new(target, name, passed ? Pass : Fail, detail);
}

/// <summary>A time the store was down for one target, from the outage script's events, in run seconds.</summary>
internal sealed record OutageWindow(string Target, double Down, double Up)
{
    /// <summary>
    /// Reads <c>UNIX_MS down|up NAME</c> lines. A "down" without its "up" lasts to the end of the run.
    /// </summary>
    public static List<OutageWindow> Read(string? path, RunClock clock, double runEnd)
    {
        var windows = new List<OutageWindow>();
        if (path is null || !File.Exists(path))
        {
            return windows;
        }
        var open = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(path))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 3 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
            {
                continue;
            }
            var at = clock.FromUnixMilliseconds(ms);
            if (parts[1] == "down")
            {
                open[parts[2]] = at;
            }
            else if (parts[1] == "up" && open.Remove(parts[2], out var down))
            {
                windows.Add(new OutageWindow(parts[2], down, at));
            }
        }
        windows.AddRange(open.Select(o => new OutageWindow(o.Key, o.Value, runEnd)));
        return windows;
    }
}

/// <summary>Whether a sampled quantity stayed flat: the last third's mean against the middle third's.</summary>
/// <param name="MiddleMean">Mean over the middle third of the traffic.</param>
/// <param name="LastMean">Mean over the last third.</param>
/// <param name="Ratio">Last over middle.</param>
/// <param name="SlopePerMinute">Least-squares slope over the last two thirds, in the quantity's unit per minute.</param>
internal sealed record Flatness(string What, double? MiddleMean, double? LastMean, double? Ratio, double? SlopePerMinute, double? Max, string Verdict, string Why)
{
    /// <summary>
    /// Flat means: last-third mean ≤ (1 + tolerance) × middle-third mean. Judged only when the middle third starts after
    /// the warm-up (<paramref name="warmUp"/> seconds: the sessions of the start have ended, expired and been collected)
    /// and each third holds at least three samples. A fall is flat: only growth is a leak.
    /// </summary>
    public static Flatness Of(string what, IReadOnlyList<(double T, double Value)> points, double start, double end, double warmUp, double tolerancePercent)
    {
        var third = (end - start) / 3;
        var middle = points.Where(p => p.T >= start + third && p.T < start + 2 * third).Select(p => p.Value).ToList();
        var last = points.Where(p => p.T >= start + 2 * third && p.T <= end).Select(p => p.Value).ToList();
        double? max = points.Count > 0 ? points.Max(p => p.Value) : null;
        if (third < warmUp)
        {
            return new Flatness(what, Mean(middle), Mean(last), null, null, max, Check.NotJudged,
                $"a third of the run ({third:0} s) is shorter than the warm-up ({warmUp:0} s: a typical session's life + idle timeout + 2 cleanup intervals)");
        }
        if (middle.Count < 3 || last.Count < 3)
        {
            return new Flatness(what, Mean(middle), Mean(last), null, null, max, Check.NotJudged, "fewer than 3 samples in the middle or last third");
        }
        var ratio = Mean(last)!.Value / Math.Max(Mean(middle)!.Value, 1e-9);
        var tail = points.Where(p => p.T >= start + third && p.T <= end).ToList();
        var verdict = ratio <= 1 + tolerancePercent / 100 ? Check.Pass : Check.Fail;
        return new Flatness(what, Mean(middle), Mean(last), Math.Round(ratio, 4), Slope(tail), max, verdict,
            $"last third / middle third = {ratio:0.000} (limit {1 + tolerancePercent / 100:0.00})");
    }

    private static double? Mean(List<double> values) => values.Count == 0 ? null : Math.Round(values.Average(), 1);

    private static double? Slope(List<(double T, double Value)> points)
    {
        if (points.Count < 2)
        {
            return null;
        }
        var meanT = points.Average(p => p.T);
        var meanV = points.Average(p => p.Value);
        var sxx = points.Sum(p => (p.T - meanT) * (p.T - meanT));
        return sxx == 0 ? null : Math.Round(points.Sum(p => (p.T - meanT) * (p.Value - meanV)) / sxx * 60, 2);
    }
}

/// <summary>The checks of one target, for the mode of the run.</summary>
internal static class Checks
{
    public static List<Check> Soak(TargetRun run, TargetSummary summary)
    {
        var name = run.Spec.Name;
        var fiveXx = summary.Statuses.Where(s => s.Key.StartsWith('5')).Sum(s => s.Value);
        var checks = new List<Check>
        {
            Check.Of(name, "zero 5xx", fiveXx == 0, $"{fiveXx} answers with a 5xx status"),
            Check.Of(name, "no other unexpected answer", summary.Errors == fiveXx,
                $"{summary.Errors - fiveXx} unexpected answers besides 5xx (401 on a live session, transport errors, timeouts, wrong bodies)"),
            LostWrites(run, summary),
            Check.Of(name, "no session replaced", summary.Anomalies.Count == 0, $"{summary.Anomalies.Count} requests ran in a session other than the client's"),
            SameProcess(run),
        };
        checks.Add(FromFlatness(name, "memory flat (RSS)", summary.Memory));
        checks.Add(FromFlatness(name, "store size flat", summary.Store));
        checks.Add(FromFlatness(name, "sessions in the store flat", summary.StoreSessions));
        return checks;
    }

    public static List<Check> Outage(TargetRun run, TargetSummary summary, IReadOnlyList<OutageWindow> windows, double margin, double runEnd)
    {
        var name = run.Spec.Name;
        var mine = windows.Where(w => w.Target == name).ToList();
        var outside = summary.ErrorsOutsideOutages;
        var checks = new List<Check>
        {
            Check.Of(name, "errors only during the outage", outside == 0,
                mine.Count == 0
                    ? $"no outage for this target; {outside} errors"
                    : $"{outside} errors outside {string.Join(", ", mine.Select(w => $"[{w.Down:0.0} s, {w.Up:0.0} s + {margin:0} s]"))}; inside: {summary.ErrorsInsideOutages} ({Kinds(summary.InsideByStatus)})"),
            LostWrites(run, summary),
            SameProcess(run),
        };
        if (mine.Count > 0)
        {
            var after = mine.Max(w => w.Up) + margin;
            var ok = run.Recorder.SuccessesBetween(after, runEnd);
            checks.Add(Check.Of(name, "recovered by itself", ok > 0 && outside == 0,
                $"{ok} good answers after the last restart + margin (t > {after:0.0} s); first good answer {string.Join(", ", summary.FirstGoodAnswerSeconds.Select(s => s.ToString("0.00", CultureInfo.InvariantCulture)))} s after the server was back; last outage error ended {summary.RecoverySeconds?.ToString("0.00", CultureInfo.InvariantCulture) ?? "-"} s after it"));
            var before = summary.WrittenBeforeOutage;
            checks.Add(before is null || before.Sessions == 0
                ? new Check(name, "sessions written before the outage all there", Check.NotJudged, "no session written before the outage was read back after it")
                : Check.Of(name, "sessions written before the outage all there", before.Lost == 0,
                    $"{before.Sessions} sessions with {before.Writes} writes acknowledged before the outage, read back after it: {before.Lost} lost"));
        }
        return checks;
    }

    private static string Kinds(IReadOnlyDictionary<string, int> byStatus) =>
        byStatus.Count == 0 ? "none" : string.Join(", ", byStatus.Select(s => $"{s.Value} × {s.Key}"));

    private static Check LostWrites(TargetRun run, TargetSummary summary) =>
        Check.Of(run.Spec.Name, "zero lost writes", summary.LostWrites == 0 && summary.UnreadSessions == 0,
            $"{summary.AckedWrites} acknowledged writes in {summary.SessionsReadBack} sessions read back: {summary.LostWrites} not found"
            + (summary.UnreadSessions > 0 ? $"; {summary.UnreadSessions} sessions could not be read back at all" : ""));

    private static Check SameProcess(TargetRun run) => run.Spec.Pid is null
        ? new Check(run.Spec.Name, "same process throughout", Check.NotJudged, "no --pid")
        : Check.Of(run.Spec.Name, "same process throughout", run.StartTicks is not null && run.StartTicks == run.EndTicks,
            run.EndTicks is null ? $"pid {run.Spec.Pid} is gone" : run.StartTicks == run.EndTicks ? $"pid {run.Spec.Pid}, never restarted" : $"pid {run.Spec.Pid} is another process now");

    private static Check FromFlatness(string target, string name, Flatness? flat) => flat is null
        ? new Check(target, name, Check.NotJudged, "not sampled")
        : new Check(target, name, flat.Verdict, flat.Why + (flat.MiddleMean is { } m && flat.LastMean is { } l ? $" (middle {m:0.#}, last {l:0.#})" : ""));
}
