using System.Globalization;
using System.Text.Json;
using Tessera.HttpBench;

// bench/http.sh builds everything in Release, starts PostgreSQL and Redis, and runs this with their addresses.
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}
BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"Tessera.HttpBench: {e.Message}");
    Console.Error.WriteLine(BenchOptions.Usage);
    return 2;
}

Results results;
if (options.FromJson is { } json)
{
    // Render a stored run again (after a change to the table or the chart): nothing is measured.
    results = Results.Load(json);
    Directory.CreateDirectory(options.Out);
    if (!string.Equals(Path.GetFullPath(Path.Combine(options.Out, "results.json")), json, StringComparison.Ordinal))
    {
        results.Save(Path.Combine(options.Out, "results.json"));
    }
}
else
{
    using var cancel = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        // Stop the run but still kill the servers (Bench's finally).
        e.Cancel = true;
        cancel.Cancel();
    };

    var machine = Machine.Describe(options);
    Console.WriteLine($"machine: {machine}");
    var runs = options.Variants.Sum(v => v.Routes.Count);
    // Each measured round runs /healthz a second time at the end of a variant's turn.
    var closing = options.Variants.Count(v => v.Routes.Contains(Route.Health));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{options.Variants.Count} variants, {runs} routes, {options.Rounds} round(s) of {options.Duration} s each, {options.Warmup} s warm-up: at least {((runs + closing) * options.Rounds * (options.Duration + 1) + runs * (options.Warmup + 1) + 30) / 60.0:0} minutes"));

    var skipped = new List<string>();
    IReadOnlyList<Measurement> measurements;
    try
    {
        measurements = await new Bench(options, Console.Out).RunAsync(skipped, cancel.Token);
    }
    catch (OperationCanceledException)
    {
        Console.Error.WriteLine("Tessera.HttpBench: interrupted; the servers were stopped.");
        return 130;
    }
    results = new Results(
        DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture),
        machine,
        string.Create(CultureInfo.InvariantCulture,
            $"wrk -t{options.Threads} -c{options.Connections} -d{options.Duration}s --latency; median of {options.Rounds} round(s), variants alternating, each variant's turn opened and closed by /healthz; {options.Warmup} s warm-up per route; each run waits up to {options.QuietWait} s for the machine to be idle"),
        options.Command,
        options.NearCacheBuilt,
        skipped,
        [.. measurements.Select(Results.Record)],
        options.Revision);
    Directory.CreateDirectory(options.Out);
    results.Save(Path.Combine(options.Out, "results.json"));
}

var rows = Report.Summarize(results.Measurements());
Console.WriteLine();
Console.WriteLine(Report.Text(rows));
foreach (var line in results.Skipped)
{
    Console.WriteLine($"skipped: {line}");
}
if (rows.Count == 0)
{
    Console.Error.WriteLine("Tessera.HttpBench: nothing was measured.");
    return 1;
}

var nearCache = results.NearCacheBuilt
    ? "the near cache is in this build (`--Tessera:NearCache:Enabled=true`)"
    : "**the near cache is not in this build**: the demo ignores `--Tessera:NearCache:Enabled=true`, so the \"+ near cache\" rows measure the same configuration as the rows above them";
var failed = rows.Sum(r => r.Failures);

Directory.CreateDirectory(options.Out);
var svg = Chart.Svg(rows, "Tessera over HTTP: requests/s relative to /healthz", $"{results.When} · {results.Settings.Split(';')[0]} · {Environment.ProcessorCount} cores shared by wrk, app and store");
var svgPath = Path.GetFullPath(Path.Combine(options.Out, "http-throughput.svg"));
var pngPath = Path.ChangeExtension(svgPath, ".png");
await File.WriteAllTextAsync(svgPath, svg);
var (pngOk, pngWhy) = await Chart.PngAsync(options.Chromium, svgPath, pngPath, CancellationToken.None);
Console.WriteLine(pngOk ? $"chart: {svgPath}, {pngPath}" : $"chart: {svgPath} (no PNG: {pngWhy})");

string Block(string images) => string.Join('\n',
[
    $"Measured {results.When} with `{results.Command}`{(results.Revision is { } revision ? $", built from {revision}" : "")}: {results.Settings}; {nearCache}.",
    "",
    $"Machine: {results.Machine}. wrk, the app and the store share these cores.",
    "",
    Report.Markdown(rows).TrimEnd(),
    "",
    .. results.Skipped.Count > 0 ? [$"Not measured: {string.Join("; ", results.Skipped)}.", ""] : Array.Empty<string>(),
    .. failed > 0 ? [$"**{failed:N0} requests failed** (non-2xx or socket errors); their rows are marked.", ""] : Array.Empty<string>(),
    pngOk ? $"![Requests/s relative to /healthz, per store and route, with targets]({images}http-throughput.png)" : $"![Requests/s relative to /healthz, per store and route, with targets]({images}http-throughput.svg)",
    "",
    $"The chart as SVG: [{images}http-throughput.svg]({images}http-throughput.svg); every round's numbers: [{images}http-throughput.json]({images}http-throughput.json).",
]);

await File.WriteAllTextAsync(Path.Combine(options.Out, "results.md"), Block("") + "\n");
Console.WriteLine($"results: {Path.GetFullPath(options.Out)}/results.md, results.json");

if (options.Publish is { } markdown)
{
    try
    {
        Publish.Into(markdown, Block("images/"), svgPath, pngOk ? pngPath : null, Path.Combine(options.Out, "results.json"));
        Console.WriteLine($"published: {markdown} (between the http-throughput markers) and its images/");
    }
    catch (InvalidOperationException e)
    {
        Console.Error.WriteLine($"Tessera.HttpBench: not published: {e.Message}");
        return 1;
    }
}
return failed > 0 ? 1 : 0;
