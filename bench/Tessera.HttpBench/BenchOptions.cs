using System.Globalization;

namespace Tessera.HttpBench;

/// <summary>The command line. bench/http.sh passes the paths and the servers; a person passes the rest through it.</summary>
internal sealed class BenchOptions
{
    public const string Usage = """
        Usage: Tessera.HttpBench --demo DLL --addsession DLL [options]
               Tessera.HttpBench --from-json results.json [--out DIR] [--publish MARKDOWN]

          --demo DLL               the built Tessera.Demo.dll (Release)
          --addsession DLL         the built Tessera.Bench.AddSession.dll (Release)
          --postgres CONN --postgres-pid PID --postgres-version V
                                   a PostgreSQL to create the benchmark databases on, and its postmaster (for CPU)
          --postgres-durable B     true when that PostgreSQL syncs its commits (bench/http.sh --durable); only labels the run
          --redis HOST:PORT --redis-pid PID --redis-version V
          --compas DIR --compas-migration FILE
                                   bench/compas with its npm packages installed, and the SQL of Compas's tables: runs
                                   Compas's refresh in process each round (the compas variant) on its own database
          --duration S             seconds per wrk run (default 10)
          --connections N          wrk -c (default 50)
          --threads N              wrk -t (default 2)
          --rounds N               rounds; each runs every variant's routes once, variants alternating (default 3)
          --warmup S               seconds per route before the first round, not measured (default 8)
          --quiet-wait S           before each run, wait up to S seconds for other programs to leave the machine
                                   nearly idle (default 10; 0 does not wait)
          --only LIST              comma-separated variants (default all): memory, sqlite, postgres, postgres-mx,
                                   postgres-nc, redis, redis-nc, compas, addsession ("-nc": with the near cache;
                                   "-mx": Npgsql's multiplexing mode)
          --near-cache-built B     true when the demo has the near cache (http.sh checks the sources)
          --out DIR                where results.md, results.json and the chart go (default artifacts/http-bench)
          --publish MARKDOWN       also copy the chart next to MARKDOWN (images/) and replace the part of MARKDOWN
                                   between <!-- http-throughput:begin --> and <!-- http-throughput:end -->
          --revision TEXT          what was built (http.sh passes the commit, and says so when src/ or samples/ differ from it)
          --command TEXT           the command line to print as "reproduce with"
          --from-json FILE         render a stored run's results.json again; measures nothing
          --wrk PATH               wrk (default wrk on PATH)
          --chromium PATH          headless Chromium for the PNG (default /usr/bin/chromium; skipped when missing)
        """;

    public string DemoDll { get; private set; } = "";
    public string AddSessionDll { get; private set; } = "";
    public string? Postgres { get; private set; }
    public int? PostgresPid { get; private set; }
    public string? PostgresVersion { get; private set; }
    public bool PostgresDurable { get; private set; }
    public string? Redis { get; private set; }
    public int? RedisPid { get; private set; }
    public string? RedisVersion { get; private set; }
    public string? CompasDirectory { get; private set; }
    public string? CompasMigration { get; private set; }
    public int Duration { get; private set; } = 10;
    public int Connections { get; private set; } = 50;
    public int Threads { get; private set; } = 2;
    public int Rounds { get; private set; } = 3;
    public int Warmup { get; private set; } = 8;
    public int QuietWait { get; private set; } = 10;
    public IReadOnlyList<string> Only { get; private set; } = [];
    public bool NearCacheBuilt { get; private set; }
    public string Out { get; private set; } = Path.Combine("artifacts", "http-bench");
    public string? Publish { get; private set; }
    public string Command { get; private set; } = "bench/http.sh";
    public string? FromJson { get; private set; }
    public string? Revision { get; private set; }
    public string Wrk { get; private set; } = "wrk";
    public string Chromium { get; private set; } = "/usr/bin/chromium";

    /// <exception cref="ArgumentException">An unknown option, a missing value or a value out of range; the message says which.</exception>
    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var options = new BenchOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{name} needs a value.");
            int Number(int min) => int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min
                ? n
                : throw new ArgumentException($"{name} takes a whole number of at least {min}.");
            switch (name)
            {
                case "--demo": options.DemoDll = Path.GetFullPath(Value()); break;
                case "--addsession": options.AddSessionDll = Path.GetFullPath(Value()); break;
                case "--postgres": options.Postgres = Value(); break;
                case "--postgres-pid": options.PostgresPid = Number(1); break;
                case "--postgres-version": options.PostgresVersion = Value(); break;
                case "--postgres-durable": options.PostgresDurable = bool.Parse(Value()); break;
                case "--redis": options.Redis = Value(); break;
                case "--redis-pid": options.RedisPid = Number(1); break;
                case "--redis-version": options.RedisVersion = Value(); break;
                case "--compas": options.CompasDirectory = Path.GetFullPath(Value()); break;
                case "--compas-migration": options.CompasMigration = Path.GetFullPath(Value()); break;
                case "--duration": options.Duration = Number(1); break;
                case "--connections": options.Connections = Number(1); break;
                case "--threads": options.Threads = Number(1); break;
                case "--rounds": options.Rounds = Number(1); break;
                case "--warmup": options.Warmup = Number(0); break;
                case "--quiet-wait": options.QuietWait = Number(0); break;
                case "--only": options.Only = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
                case "--near-cache-built": options.NearCacheBuilt = bool.Parse(Value()); break;
                case "--out": options.Out = Value(); break;
                case "--publish": options.Publish = Path.GetFullPath(Value()); break;
                case "--command": options.Command = Value(); break;
                case "--from-json": options.FromJson = Path.GetFullPath(Value()); break;
                case "--revision": options.Revision = Value(); break;
                case "--wrk": options.Wrk = Value(); break;
                case "--chromium": options.Chromium = Value(); break;
                default: throw new ArgumentException($"Unknown option {name}.");
            }
        }
        if (options.FromJson is null && (options.DemoDll.Length == 0 || options.AddSessionDll.Length == 0))
        {
            throw new ArgumentException("--demo and --addsession are required.");
        }
        if (options.Threads > options.Connections)
        {
            throw new ArgumentException("--threads cannot be more than --connections (wrk gives every thread connections).");
        }
        var unknown = options.Only.Where(id => Variant.All.All(v => v.Id != id)).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException($"--only: no variant {string.Join(", ", unknown)}; the variants are {string.Join(", ", Variant.All.Select(v => v.Id))}.");
        }
        return options;
    }

    public IReadOnlyList<Variant> Variants => Only.Count == 0 ? Variant.All : [.. Variant.All.Where(v => Only.Contains(v.Id))];
}
