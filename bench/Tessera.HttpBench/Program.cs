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

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // Stop the run but still kill the servers (Bench's finally).
    e.Cancel = true;
    cancel.Cancel();
};

var machine = Machine.Describe(options);
Console.WriteLine($"machine: {machine}");
var perRun = options.Duration + 1;
var runs = options.Variants.Sum(v => v.Routes.Count);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{options.Variants.Count} variants, {runs} routes, {options.Rounds} round(s) of {options.Duration} s each, {options.Warmup} s warm-up: about {(runs * (options.Rounds * perRun + options.Warmup + 1) + 30) / 60.0:0} minutes"));

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

var rows = Report.Summarize(measurements);
Console.WriteLine();
Console.WriteLine(Report.Text(rows));
foreach (var line in skipped)
{
    Console.WriteLine($"skipped: {line}");
}
if (rows.Count == 0)
{
    Console.Error.WriteLine("Tessera.HttpBench: nothing was measured.");
    return 1;
}

var settings = string.Create(CultureInfo.InvariantCulture,
    $"wrk -t{options.Threads} -c{options.Connections} -d{options.Duration}s --latency; median of {options.Rounds} round(s), variants alternating; {options.Warmup} s warm-up per route");
var nearCache = options.NearCacheBuilt
    ? "the near cache is in this build (`--Tessera:NearCache:Enabled=true`)"
    : "**the near cache is not in this build**: the demo ignores `--Tessera:NearCache:Enabled=true`, so the \"+ near cache\" rows measure the same configuration as the rows above them";
var when = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
var failed = rows.Sum(r => r.Failures);

Directory.CreateDirectory(options.Out);
var svg = Chart.Svg(rows, "Tessera over HTTP: requests/s relative to /healthz", $"{when} · {settings} · {Environment.ProcessorCount} cores shared by wrk, app and store");
var svgPath = Path.GetFullPath(Path.Combine(options.Out, "http-throughput.svg"));
var pngPath = Path.ChangeExtension(svgPath, ".png");
await File.WriteAllTextAsync(svgPath, svg);
var (pngOk, pngWhy) = await Chart.PngAsync(options.Chromium, svgPath, pngPath, CancellationToken.None);
Console.WriteLine(pngOk ? $"chart: {svgPath}, {pngPath}" : $"chart: {svgPath} (no PNG: {pngWhy})");

string Block(string images) => string.Join('\n',
[
    $"Measured {when} with `{options.Command}`: {settings}; {nearCache}.",
    "",
    $"Machine: {machine}. wrk, the app and the store share these cores.",
    "",
    Report.Markdown(rows).TrimEnd(),
    "",
    .. skipped.Count > 0 ? [$"Not measured: {string.Join("; ", skipped)}.", ""] : Array.Empty<string>(),
    .. failed > 0 ? [$"**{failed:N0} requests failed** (non-2xx or socket errors); their rows are marked.", ""] : Array.Empty<string>(),
    pngOk ? $"![Requests/s relative to /healthz, per store and route, with targets]({images}http-throughput.png)" : $"![Requests/s relative to /healthz, per store and route, with targets]({images}http-throughput.svg)",
    "",
    $"The chart as SVG: [{images}http-throughput.svg]({images}http-throughput.svg).",
]);

await File.WriteAllTextAsync(Path.Combine(options.Out, "results.md"), Block("") + "\n");
await File.WriteAllTextAsync(Path.Combine(options.Out, "results.json"), JsonSerializer.Serialize(
    measurements.Select(m => new
    {
        variant = m.Variant.Id,
        route = m.Route.Id,
        round = m.Round,
        requestsPerSecond = m.Result.RequestsPerSecond,
        requests = m.Result.Requests,
        seconds = m.Result.Seconds,
        latencyMs = m.Result.LatencyPercentilesMs.ToDictionary(p => p.Key.ToString(CultureInfo.InvariantCulture), p => p.Value),
        non2xx = m.Result.Non2xx,
        socketErrors = m.Result.SocketErrors,
        cores = new { machine = m.Cpu.Machine, server = m.Cpu.Server, store = m.Cpu.Store, wrk = m.Cpu.Wrk },
    }),
    new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine($"results: {Path.GetFullPath(options.Out)}/results.md, results.json");

if (options.Publish is { } markdown)
{
    try
    {
        Publish.Into(markdown, Block("images/"), svgPath, pngOk ? pngPath : null);
        Console.WriteLine($"published: {markdown} (between the http-throughput markers) and its images/");
    }
    catch (InvalidOperationException e)
    {
        Console.Error.WriteLine($"Tessera.HttpBench: not published: {e.Message}");
        return 1;
    }
}
return failed > 0 ? 1 : 0;
