using System.Globalization;

namespace Tessera.Soak;

/// <summary>What the run checks at the end, and so what decides the exit code.</summary>
internal enum RunMode
{
    /// <summary>Zero 5xx, zero other unexpected answers, zero lost writes, memory and store size flat.</summary>
    Soak,

    /// <summary>Errors only inside the outage windows (plus the reconnect margin), zero lost writes, the same process throughout.</summary>
    Outage,
}

/// <summary>One running demo instance: where it listens, its process and its store (for memory and store size).</summary>
internal sealed class TargetSpec(string name, Uri url)
{
    public string Name { get; } = name;

    public Uri Url { get; } = url;

    public int? Pid { get; set; }

    /// <summary><c>sqlite</c>, <c>postgres</c> or <c>redis</c>; null when the store is not sampled.</summary>
    public string? StoreKind { get; set; }

    /// <summary>The database file, the Npgsql connection string or <c>host:port</c>.</summary>
    public string? StoreAddress { get; set; }
}

/// <summary>The driver's command line. Every option has a default except the targets.</summary>
internal sealed class SoakOptions
{
    public const string Usage = """
        Usage: Tessera.Soak --target NAME=URL [--pid NAME=PID] [--sqlite NAME=PATH | --postgres NAME=CONNSTR | --redis NAME=HOST:PORT] ... [options]

          --target NAME=URL        a running demo (repeat for several; they are driven at the same time)
          --pid NAME=PID           its process id: RSS is sampled from /proc/PID/status, and the run checks it is the same process at the end
          --sqlite NAME=PATH       its store is this SQLite file: rows of the session tables are sampled
          --postgres NAME=CONNSTR  its store is this PostgreSQL database: rows of "sessionStore" and "sessionStoreToken" are sampled
          --redis NAME=HOST:PORT   its store is this Redis: DBSIZE (every key) and the sessions' expiry index are sampled
          --mode soak|outage       which checks decide the exit code (default soak)
          --duration S             seconds of traffic after the set-up (default 600)
          --rate R                 requests per second per target (default 100)
          --concurrency C          requests in flight per target at most (default 8)
          --slots N                sessions in use at once per target, a third of them token sessions (default 120)
          --pinned K               of those, sessions that never end: signed in and written before the traffic starts,
                                   read back at the end (default 20)
          --session-requests A-B   a rotating session gets A to B requests, then is read back and signed out or
                                   abandoned, half and half (default 20-120)
          --idle-timeout S         the demos' Tessera:IdleTimeout, for the flatness check's warm-up and the report (default 60)
          --cleanup-interval S     the demos' Tessera:CleanupInterval, likewise (default 15)
          --sample S               seconds between memory and store samples (default 5)
          --flat-tolerance P       "flat": the last third's mean is at most P % above the middle third's (default 10)
          --events FILE            outage events, one per line: UNIX_MS down|up NAME (written by bench/outage.sh)
          --reconnect-margin S     errors up to S seconds after an "up" event still count as the outage's (default 7)
          --ready FILE             written once every slot is signed in and has written once (outage.sh waits for it)
          --out FILE               the machine-readable results (default soak-results.json)
          --seed N                 random seed (default 1)
          -h, --help               this text
        """;

    public List<TargetSpec> Targets { get; } = [];

    public RunMode Mode { get; private set; } = RunMode.Soak;

    public int Duration { get; private set; } = 600;

    public double Rate { get; private set; } = 100;

    public int Concurrency { get; private set; } = 8;

    public int Slots { get; private set; } = 120;

    public int Pinned { get; private set; } = 20;

    public int MinSessionRequests { get; private set; } = 20;

    public int MaxSessionRequests { get; private set; } = 120;

    public double IdleTimeout { get; private set; } = 60;

    public double CleanupInterval { get; private set; } = 15;

    public double Sample { get; private set; } = 5;

    public double FlatTolerance { get; private set; } = 10;

    public string? Events { get; private set; }

    public double ReconnectMargin { get; private set; } = 7;

    public string? Ready { get; private set; }

    public string Out { get; private set; } = "soak-results.json";

    public int Seed { get; private set; } = 1;

    public static SoakOptions Parse(string[] args)
    {
        var options = new SoakOptions();
        var byName = new Dictionary<string, TargetSpec>(StringComparer.Ordinal);
        var late = new List<(string Option, string Name, string Value)>();
        for (var i = 0; i < args.Length; i++)
        {
            var option = args[i];
            if (i + 1 >= args.Length)
            {
                throw new ArgumentException($"{option} needs a value.");
            }
            var value = args[++i];
            switch (option)
            {
                case "--target":
                    var (name, url) = Pair(option, value);
                    if (!Uri.TryCreate(url.TrimEnd('/') + "/", UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                    {
                        throw new ArgumentException($"--target {name}: '{url}' is not an http(s) URL.");
                    }
                    if (!byName.TryAdd(name, new TargetSpec(name, uri)))
                    {
                        throw new ArgumentException($"--target {name} is given twice.");
                    }
                    options.Targets.Add(byName[name]);
                    break;
                case "--pid" or "--sqlite" or "--postgres" or "--redis":
                    var (target, rest) = Pair(option, value);
                    late.Add((option, target, rest));
                    break;
                case "--mode":
                    options.Mode = value switch
                    {
                        "soak" => RunMode.Soak,
                        "outage" => RunMode.Outage,
                        _ => throw new ArgumentException("--mode is soak or outage."),
                    };
                    break;
                case "--duration": options.Duration = (int)Number(option, value, 1, 86_400); break;
                case "--rate": options.Rate = Number(option, value, 1, 100_000); break;
                case "--concurrency": options.Concurrency = (int)Number(option, value, 1, 1_000); break;
                case "--slots": options.Slots = (int)Number(option, value, 2, 100_000); break;
                case "--pinned": options.Pinned = (int)Number(option, value, 0, 100_000); break;
                case "--session-requests":
                    var range = value.Split('-', 2);
                    if (range.Length != 2)
                    {
                        throw new ArgumentException("--session-requests is A-B, such as 20-120.");
                    }
                    options.MinSessionRequests = (int)Number(option, range[0], 1, 1_000);
                    options.MaxSessionRequests = (int)Number(option, range[1], options.MinSessionRequests, 1_000);
                    break;
                case "--idle-timeout": options.IdleTimeout = Number(option, value, 1, 86_400); break;
                case "--cleanup-interval": options.CleanupInterval = Number(option, value, 0.1, 86_400); break;
                case "--sample": options.Sample = Number(option, value, 0.2, 3_600); break;
                case "--flat-tolerance": options.FlatTolerance = Number(option, value, 0, 1_000); break;
                case "--events": options.Events = value; break;
                case "--reconnect-margin": options.ReconnectMargin = Number(option, value, 0, 3_600); break;
                case "--ready": options.Ready = value; break;
                case "--out": options.Out = value; break;
                case "--seed": options.Seed = (int)Number(option, value, 0, int.MaxValue); break;
                default: throw new ArgumentException($"unknown option {option}.");
            }
        }

        foreach (var (option, name, value) in late)
        {
            var target = byName.TryGetValue(name, out var found) ? found : throw new ArgumentException($"{option} {name}: no --target {name}.");
            if (option == "--pid")
            {
                target.Pid = (int)Number(option, value, 1, int.MaxValue);
            }
            else
            {
                if (target.StoreKind is not null)
                {
                    throw new ArgumentException($"{option} {name}: the target already has a store.");
                }
                target.StoreKind = option[2..];
                target.StoreAddress = value;
            }
        }
        if (options.Targets.Count == 0)
        {
            throw new ArgumentException("at least one --target is needed.");
        }
        if (options.Pinned >= options.Slots)
        {
            throw new ArgumentException("--pinned must be below --slots (some sessions have to rotate).");
        }
        if (options.Concurrency > options.Slots)
        {
            throw new ArgumentException("--concurrency must not exceed --slots (a session has one request in flight at a time).");
        }
        return options;
    }

    private static (string Name, string Value) Pair(string option, string text)
    {
        var at = text.IndexOf('=', StringComparison.Ordinal);
        if (at <= 0 || at == text.Length - 1)
        {
            throw new ArgumentException($"{option} takes NAME=VALUE, got '{text}'.");
        }
        return (text[..at], text[(at + 1)..]);
    }

    private static double Number(string option, string text, double min, double max)
    {
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new ArgumentException($"{option} must be a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}, got '{text}'.");
        }
        return value;
    }
}
