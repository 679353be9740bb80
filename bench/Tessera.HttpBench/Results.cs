using System.Globalization;
using System.Text.Json;

namespace Tessera.HttpBench;

/// <summary>
/// A run's measurements with what they were measured on: written as results.json, and read back by
/// <c>--from-json</c> to render the table and the chart again without measuring.
/// </summary>
/// <param name="Revision">What was built: a commit, and whether src/ or samples/ had uncommitted changes (null in older files).</param>
internal sealed record Results(string When, string Machine, string Settings, string Command, bool NearCacheBuilt, IReadOnlyList<string> Skipped, IReadOnlyList<RunRecord> Runs, string? Revision = null)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Results Load(string path) =>
        JsonSerializer.Deserialize<Results>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path} holds no results.");

    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, Json));

    public static RunRecord Record(Measurement m) => new(
        m.Variant.Id,
        m.Route.Id,
        m.Round,
        m.Result.RequestsPerSecond,
        m.Result.Requests,
        m.Result.Seconds,
        m.Result.LatencyPercentilesMs.ToDictionary(p => p.Key.ToString(CultureInfo.InvariantCulture), p => p.Value),
        m.Result.Non2xx,
        m.Result.SocketErrors,
        m.Cpu,
        m.Statements,
        m.Closing);

    /// <exception cref="InvalidDataException">A run names a variant or route this version does not know.</exception>
    public List<Measurement> Measurements() => [.. Runs.Select(r =>
    {
        var variant = Variant.All.FirstOrDefault(v => v.Id == r.Variant) ?? throw new InvalidDataException($"Unknown variant {r.Variant}.");
        var route = variant.Routes.FirstOrDefault(x => x.Id == r.Route) ?? throw new InvalidDataException($"Unknown route {r.Route} of {r.Variant}.");
        var percentiles = r.LatencyMs.ToDictionary(p => int.Parse(p.Key, CultureInfo.InvariantCulture), p => p.Value);
        return new Measurement(variant, route, r.Round, new WrkResult(r.Requests, r.Seconds, r.RequestsPerSecond, percentiles, r.Non2xx, r.SocketErrors), r.Cores, r.Statements, r.Closing);
    })];
}

/// <summary>
/// One wrk run as stored in results.json (<see cref="Statements"/> is absent from runs before it was counted, and
/// <see cref="Closing"/>, the second /healthz of a variant's turn, from runs before /healthz ran twice).
/// </summary>
internal sealed record RunRecord(
    string Variant,
    string Route,
    int Round,
    double RequestsPerSecond,
    long Requests,
    double Seconds,
    IReadOnlyDictionary<string, double> LatencyMs,
    long Non2xx,
    long SocketErrors,
    CpuShare Cores,
    StatementShare? Statements = null,
    bool Closing = false);
