using System.Globalization;
using Tessera.Soak;

// bench/soak.sh and bench/outage.sh start the stores and the demos, then run this against them.
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(SoakOptions.Usage);
    return 0;
}
SoakOptions options;
try
{
    options = SoakOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"Tessera.Soak: {e.Message}");
    Console.Error.WriteLine(SoakOptions.Usage);
    return 2;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

var clock = new RunClock();
var runs = options.Targets.Select((t, i) => new TargetRun(options, t, i, clock)).ToList();
var c = CultureInfo.InvariantCulture;
try
{
    Console.WriteLine(string.Create(c,
        $"set-up: {options.Slots} sessions per target ({options.Pinned} pinned), each signed in and written once, on {string.Join(", ", runs.Select(r => $"{r.Spec.Name} ({r.Spec.Url})"))}"));
    await Task.WhenAll(runs.Select(r => r.SetUpAsync(cancel.Token)));
    var start = clock.Now;
    if (options.Ready is { } ready)
    {
        await File.WriteAllTextAsync(ready, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(c) + "\n", cancel.Token);
    }
    Console.WriteLine(string.Create(c,
        $"traffic: {options.Duration} s at {options.Rate:0} requests/s and {options.Concurrency} in flight per target; samples every {options.Sample:0.#} s"));

    using var sampling = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token);
    var sampler = SampleAsync(runs, options, clock, start, sampling.Token);
    await Task.WhenAll(runs.Select(r => r.DriveAsync(start + options.Duration, cancel.Token)));
    var end = clock.Now;
    await sampling.CancelAsync();
    await sampler;
    await Task.WhenAll(runs.Select(r => r.SampleAsync(cancel.Token)));

    Console.WriteLine("reading every session back...");
    await Task.WhenAll(runs.Select(r => r.FinishAsync(cancel.Token)));

    var windows = OutageWindow.Read(options.Events, clock, end);
    var summaries = new List<TargetSummary>();
    foreach (var run in runs)
    {
        var summary = TargetSummary.Of(run, options, start, end, windows);
        summary.Checks.AddRange(options.Mode == RunMode.Soak
            ? Checks.Soak(run, summary)
            : Checks.Outage(run, summary, windows, options.ReconnectMargin, end));
        summaries.Add(summary);
    }
    var passed = summaries.All(s => s.Checks.All(k => k.Verdict != Check.Fail));
    var settings = string.Create(c,
        $"{options.Rate:0} requests/s and {options.Concurrency} in flight per target, {options.Slots} sessions in use ({options.Pinned} pinned, a third token sessions), {options.MinSessionRequests}-{options.MaxSessionRequests} requests per rotating session, idle timeout {options.IdleTimeout:0} s, cleanup every {options.CleanupInterval:0} s, flat = last third within {options.FlatTolerance:0} % of the middle third")
        + (options.Mode == RunMode.Outage ? string.Create(c, $", reconnect margin {options.ReconnectMargin:0} s") : "");
    var results = new RunResults(options.Mode.ToString().ToLowerInvariant(), clock.StartedAt.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", c),
        Math.Round(start, 2), Math.Round(end, 2), settings, windows, summaries, passed);
    results.Save(options.Out);
    Console.WriteLine();
    Console.Write(results.Text());
    Console.WriteLine($"results: {Path.GetFullPath(options.Out)}");
    return passed ? 0 : 1;
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    Console.Error.WriteLine("Tessera.Soak: interrupted.");
    return 130;
}
catch (InvalidOperationException e)
{
    Console.Error.WriteLine($"Tessera.Soak: {e.Message}");
    return 1;
}
finally
{
    foreach (var run in runs)
    {
        await run.DisposeAsync();
    }
}

// Samples memory and store every --sample seconds and prints a progress line about every 30 s.
static async Task SampleAsync(List<TargetRun> runs, SoakOptions options, RunClock clock, double start, CancellationToken cancellationToken)
{
    var every = TimeSpan.FromSeconds(options.Sample);
    var printEvery = Math.Max(1, (int)Math.Round(30 / options.Sample));
    var c = CultureInfo.InvariantCulture;
    try
    {
        for (var i = 0; ; i++)
        {
            await Task.WhenAll(runs.Select(r => r.SampleAsync(cancellationToken)));
            if (i % printEvery == 0)
            {
                foreach (var run in runs)
                {
                    var last = run.Samples[^1];
                    var statuses = run.Recorder.Statuses();
                    Console.WriteLine(string.Create(c,
                        $"t={clock.Now - start,5:0}s {run.Spec.Name,-9} {statuses.Values.Sum(),8:N0} requests, {run.Recorder.Errors().Count,5:N0} errors, RSS {(last.RssKb is { } kb ? $"{kb / 1024.0:0.0} MB" : "-")}, store {(last.Store is { } s ? $"{s.Size:N0} ({s.Sessions:N0} sessions)" : "-")}"));
                }
            }
            await Task.Delay(every, cancellationToken);
        }
    }
    catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
    {
        // The traffic is over.
    }
}
