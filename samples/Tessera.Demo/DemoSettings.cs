namespace Tessera.Demo;

/// <summary>The demo's own settings, read once at start-up from configuration.</summary>
internal sealed class DemoSettings
{
    public static readonly string[] KnownStores = ["sqlite", "memory", "postgres", "redis", "cookie"];

    private DemoSettings(string store, string dataDirectory, IReadOnlyList<string> configuredKeys, IConfiguration configuration)
    {
        Store = store;
        DataDirectory = dataDirectory;
        ConfiguredKeys = configuredKeys;
        SqliteConnectionString = NullIfBlank(configuration.GetConnectionString("Sqlite"));
        PostgresConnectionString = NullIfBlank(configuration.GetConnectionString("Postgres"));
        RedisConnectionString = NullIfBlank(configuration.GetConnectionString("Redis"));
        RedisKeyPrefix = NullIfBlank(configuration["Tessera:Redis:KeyPrefix"]);
        NearCache = ReadBool(configuration, "Tessera:NearCache:Enabled");
        NearCacheMaxStaleness = ReadSeconds(configuration, "Tessera:NearCache:MaxStalenessSeconds");
        StoreStartupTimeout = ReadSeconds(configuration, "Demo:StoreStartupTimeoutSeconds") ?? TimeSpan.FromSeconds(30);
        OperatorPasswordHash = ReadOperatorPasswordHash(configuration);
        SessionRateLimit = ReadSessionRateLimit(configuration);
        CorsOrigins = [.. ReadList(configuration.GetSection("Demo:CorsOrigins")).Select(DemoCors.ReadOrigin).Distinct(StringComparer.OrdinalIgnoreCase)];
    }

    /// <summary>The store to use: <c>Tessera:Store</c>, lower case; default <c>sqlite</c>.</summary>
    public string Store { get; }

    /// <summary>
    /// Where the SQLite database and the development signing key live: <c>Demo:DataDirectory</c>, relative to the
    /// content root; default <c>data</c>.
    /// </summary>
    public string DataDirectory { get; }

    /// <summary>The signing keys from <c>Tessera:Keys</c> (a list, or one value with comma-separated keys).</summary>
    public IReadOnlyList<string> ConfiguredKeys { get; }

    /// <summary><c>ConnectionStrings:Sqlite</c> when set; otherwise the database is <c>sessions.db</c> in the data directory.</summary>
    public string? SqliteConnectionString { get; }

    /// <summary><c>ConnectionStrings:Postgres</c> (Npgsql format), required by the <c>postgres</c> store.</summary>
    public string? PostgresConnectionString { get; }

    /// <summary>
    /// <c>ConnectionStrings:Redis</c>, a StackExchange.Redis configuration string (<c>host:port[,password=...]</c>, or
    /// several endpoints, <c>ssl=true</c>, <c>serviceName=</c> for Sentinel, timeouts...), required by the <c>redis</c> store.
    /// </summary>
    public string? RedisConnectionString { get; }

    /// <summary><c>Tessera:Redis:KeyPrefix</c>, the prefix of every key the Redis store writes; default the store's (<c>tessera</c>).</summary>
    public string? RedisKeyPrefix { get; }

    /// <summary>
    /// <c>Tessera:NearCache:Enabled</c>: whether session reads are served from a local cache invalidated through the
    /// store (Redis pub/sub or PostgreSQL LISTEN/NOTIFY). Default <see langword="false"/>; only for those two stores.
    /// </summary>
    public bool NearCache { get; }

    /// <summary><c>Tessera:NearCache:MaxStalenessSeconds</c>: the near cache's staleness bound; default the library's (5 seconds).</summary>
    public TimeSpan? NearCacheMaxStaleness { get; }

    /// <summary>
    /// <c>Demo:StoreStartupTimeoutSeconds</c>: how long the first reach of a PostgreSQL or Redis store at start-up may
    /// take before the demo gives up with one line; default 30 seconds, at most 300. The store client's own timeouts
    /// (Npgsql's <c>Timeout</c>, the Redis command timeout) may end it sooner.
    /// </summary>
    public TimeSpan StoreStartupTimeout { get; }

    /// <summary>
    /// <c>Demo:OperatorPasswordHash</c>: the hash of the password that signs an operator in at <c>/admin/sign-in</c>,
    /// as printed by <c>dotnet run -- hash-operator-password</c>. Default none, and then nobody is an operator and the
    /// operator routes answer 404: the demo's password-less sign-in grants no rights.
    /// </summary>
    public string? OperatorPasswordHash { get; }

    /// <summary>
    /// <c>Demo:SessionRateLimit</c>: how many requests a minute one client address may make to the routes that can
    /// create a session (sign-ins, the cart, flash, counters, the point of sale), with bursts up to that many; beyond it
    /// a 429. Default 600 (a burst of 600, then 10 a second): far above what a person does, far below a flood. 0 turns it
    /// off (the load harnesses do, since every request of theirs comes from one address).
    /// </summary>
    public int SessionRateLimit { get; }

    /// <summary>
    /// <c>Demo:CorsOrigins</c>: the origins (<c>https://app.example.com</c>) whose pages may call the token API
    /// (<c>/api/...</c>) cross-origin; a list, or one value with comma-separated origins. Default none: only the demo's
    /// own pages can read its answers. See <see cref="DemoCors"/>.
    /// </summary>
    public IReadOnlyList<string> CorsOrigins { get; }

    /// <summary>
    /// Where sessions live, for the start-up log line. Never a password: for PostgreSQL only host, port and database; for
    /// Redis only the endpoints.
    /// </summary>
    public string StoreLocation => Store switch
    {
        "sqlite" => SqliteConnectionString is null ? SqliteDatabasePath : "ConnectionStrings:Sqlite",
        "memory" => "process memory (lost on restart)",
        "postgres" => DemoStores.DescribePostgres(PostgresConnectionString),
        "redis" => $"Redis {DemoStores.DescribeRedis(RedisConnectionString)} (keys {RedisKeyPrefix ?? "tessera"}:*)",
        _ => Store,
    };

    public string SqliteDatabasePath => Path.Combine(DataDirectory, "sessions.db");

    public static DemoSettings From(IConfiguration configuration, IHostEnvironment environment)
    {
        var store = (configuration["Tessera:Store"] ?? "sqlite").Trim().ToLowerInvariant();
        if (store.Length == 0)
        {
            store = "sqlite";
        }
        if (!KnownStores.Contains(store))
        {
            throw new DemoConfigurationException(
                $"Tessera:Store is '{configuration["Tessera:Store"]}', which is not a store this demo knows; use one of: {string.Join(", ", KnownStores)}.");
        }

        var dataDirectory = configuration["Demo:DataDirectory"];
        dataDirectory = Path.GetFullPath(string.IsNullOrWhiteSpace(dataDirectory) ? "data" : dataDirectory, environment.ContentRootPath);

        return new DemoSettings(store, dataDirectory, ReadList(configuration.GetSection("Tessera:Keys")), configuration);
    }

    private static bool ReadBool(IConfiguration configuration, string key)
    {
        var text = configuration[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }
        return bool.TryParse(text.Trim(), out var value)
            ? value
            : throw new DemoConfigurationException($"{key} is '{text}', which is not true or false.");
    }

    private static TimeSpan? ReadSeconds(IConfiguration configuration, string key)
    {
        var text = configuration[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        return double.TryParse(text.Trim(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds > 0 && seconds <= 300
            ? TimeSpan.FromSeconds(seconds)
            : throw new DemoConfigurationException($"{key} is '{text}'; expected a number of seconds above 0 and at most 300.");
    }

    private static int ReadSessionRateLimit(IConfiguration configuration)
    {
        var text = configuration["Demo:SessionRateLimit"];
        if (string.IsNullOrWhiteSpace(text))
        {
            return DemoRateLimits.DefaultSessionRateLimit;
        }
        return int.TryParse(text.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var limit) && limit <= 1_000_000
            ? limit
            : throw new DemoConfigurationException($"Demo:SessionRateLimit is '{text}'; expected a whole number of requests a minute from 0 (off) to 1,000,000.");
    }

    private static string? NullIfBlank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private static string? ReadOperatorPasswordHash(IConfiguration configuration)
    {
        // The old list of operator names granted operator rights to anyone who typed one of them: say it is gone rather
        // than leave whoever set it wondering why their operator page is now a 404.
        if (configuration.GetSection("Demo:Operators").Exists())
        {
            throw new DemoConfigurationException(
                "Demo:Operators is no longer read: a user name is no authorization. Remove it, and set Demo:OperatorPasswordHash "
                + $"(dotnet run --project samples/Tessera.Demo -- {OperatorPassword.HashCommand}) to use the operator page.");
        }
        var hash = NullIfBlank(configuration["Demo:OperatorPasswordHash"])?.Trim();
        return hash is null || OperatorPassword.IsWellFormed(hash)
            ? hash
            : throw new DemoConfigurationException(
                $"Demo:OperatorPasswordHash is not a password hash made by `dotnet run --project samples/Tessera.Demo -- {OperatorPassword.HashCommand}` (the password itself must never be configured).");
    }

    private static List<string> ReadList(IConfigurationSection section)
    {
        // Tessera__Keys__0=... gives a list; Tessera__Keys=... (one variable) is accepted too, comma-separated.
        var keys = new List<string>();
        if (!string.IsNullOrWhiteSpace(section.Value))
        {
            keys.AddRange(section.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }
        foreach (var child in section.GetChildren().OrderBy(c => int.TryParse(c.Key, out var i) ? i : int.MaxValue))
        {
            if (!string.IsNullOrWhiteSpace(child.Value))
            {
                keys.Add(child.Value.Trim());
            }
        }
        return keys;
    }
}

/// <summary>A store the demo cannot start with: it took the connection but never answered. The message names the store and its endpoint, never a password.</summary>
public sealed class DemoStoreUnavailableException : Exception
{
    public DemoStoreUnavailableException()
    {
    }

    public DemoStoreUnavailableException(string message) : base(message)
    {
    }

    public DemoStoreUnavailableException(string message, Exception innerException) : base(message, innerException)
    {
    }
}

/// <summary>A setting the demo cannot start with; its message says what to change and is all the user sees.</summary>
public sealed class DemoConfigurationException : Exception
{
    public DemoConfigurationException()
    {
    }

    public DemoConfigurationException(string message) : base(message)
    {
    }

    public DemoConfigurationException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
