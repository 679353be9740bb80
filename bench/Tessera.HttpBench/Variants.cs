namespace Tessera.HttpBench;

/// <summary>How a route's requests carry their credential.</summary>
internal enum Credential
{
    /// <summary>A session cookie from <c>POST /login</c>.</summary>
    Cookie,

    /// <summary><c>Authorization: Bearer</c> with an access token from <c>POST /api/login</c>.</summary>
    Bearer,

    /// <summary>A refresh-token chain from <c>POST /api/login</c>, rotated by every request (see pool.lua).</summary>
    RefreshChain,
}

/// <summary>One measured route. <paramref name="Id"/> is what the table and the chart show.</summary>
internal sealed record Route(string Id, string Method, string Path, Credential Credential)
{
    public static readonly Route Health = new("GET /healthz", "GET", "/healthz", Credential.Cookie);
    public static readonly Route Me = new("GET /me", "GET", "/me", Credential.Cookie);
    public static readonly Route ApiMe = new("GET /api/me", "GET", "/api/me", Credential.Bearer);
    public static readonly Route Write = new("POST /counter", "POST", "/counter/hits", Credential.Cookie);
    public static readonly Route Refresh = new("POST /api/refresh", "POST", "/api/refresh", Credential.RefreshChain);

    /// <summary>Compas's <c>sessionStoreRefreshTokens</c> called in process (bench/compas/refresh.mjs): no HTTP.</summary>
    public static readonly Route CompasRefresh = new("refresh in process", "", "", Credential.RefreshChain);
}

/// <summary>
/// A target from the issue: a ratio to /healthz of the same process in the same round, an absolute rate (requests per
/// second, for the token reads compared with Compas's published figure), or a multiple of Compas's own refresh rate
/// measured in the same round (<see cref="TimesCompas"/>).
/// </summary>
internal sealed record Target(double? Ratio, double? RequestsPerSecond, string Note, double? TimesCompas = null)
{
    public static Target AtLeastRatio(double ratio) => new(ratio, null, "");

    public static Target AtLeastRate(double perSecond, string note) => new(null, perSecond, note);

    public static Target AtLeastTimesCompas(double multiple) => new(null, null, "", multiple);

    /// <summary>Whether there is anything to meet (the AddSession and Compas rows are only measured).</summary>
    public bool IsGoal => Ratio is not null || RequestsPerSecond is not null || TimesCompas is not null;

    /// <summary>Whether the medians meet the target; a multiple of Compas is never met without a Compas measurement (NaN).</summary>
    public bool MetBy(double ratio, double perSecond, double timesCompas) =>
        (Ratio is not { } r || ratio >= r) && (RequestsPerSecond is not { } rate || perSecond >= rate)
        && (TimesCompas is not { } multiple || timesCompas >= multiple);
}

/// <summary>
/// One server configuration: a store, with or without the near cache, or the AddSession baseline.
/// <paramref name="Multiplexing"/> runs the PostgreSQL store on Npgsql's multiplexing mode (<c>Multiplexing=true</c> in
/// its connection string), the mode issue 17 asks the store to be measured in.
/// </summary>
internal sealed record Variant(string Id, string Store, bool NearCache, IReadOnlyList<Route> Routes, IReadOnlyDictionary<Route, Target> Targets, bool Multiplexing = false)
{
    public bool IsAddSession => Store == "addsession";

    public bool IsCompas => Store == "compas";

    public string Label => IsAddSession ? "AddSession (memory cache)" : IsCompas ? "Compas 0.5.5 (in process)" : NearCache ? $"{Store} + near cache" : Multiplexing ? $"{Store} (multiplexing)" : Store;

    public bool NeedsPostgres => Store is "postgres" or "compas";

    public bool NeedsRedis => Store == "redis";

    /// <summary>
    /// Every variant of the issue, in the order they run within a round. The near cache is for the shared stores only
    /// (the demo refuses it for memory and SQLite, which already live in the process or on its disk). The targets are the issue's: GET /me as a
    /// ratio to /healthz per store, GET /api/me on memory, POST /counter on SQLite and PostgreSQL, token reads on
    /// PostgreSQL at four times Compas's published 5,500/s, and refreshes at five times Compas's own refresh measured in
    /// the same round on the same PostgreSQL (the compas variant; concurrency 50 everywhere).
    /// </summary>
    public static IReadOnlyList<Variant> All { get; } = Build();

    private static List<Variant> Build()
    {
        Route[] cookieAndBearer = [Route.Health, Route.Me, Route.ApiMe, Route.Write];
        Route[] withRefresh = [.. cookieAndBearer, Route.Refresh];
        var pgTokens = new Dictionary<Route, Target>
        {
            [Route.ApiMe] = Target.AtLeastRate(22_000, "4 × Compas's 5,500/s"),
            [Route.Refresh] = Target.AtLeastTimesCompas(5),
        };
        Dictionary<Route, Target> With(Dictionary<Route, Target> targets, Route route, double ratio) =>
            new(targets) { [route] = Target.AtLeastRatio(ratio) };

        return
        [
            new("memory", "memory", false, cookieAndBearer, new Dictionary<Route, Target>
            {
                [Route.Me] = Target.AtLeastRatio(0.90),
                [Route.ApiMe] = Target.AtLeastRatio(0.85),
            }),
            new("sqlite", "sqlite", false, cookieAndBearer, new Dictionary<Route, Target>
            {
                [Route.Me] = Target.AtLeastRatio(0.75),
                [Route.Write] = Target.AtLeastRatio(0.30),
            }),
            new("postgres", "postgres", false, withRefresh, new Dictionary<Route, Target>(With(pgTokens, Route.Me, 0.40)) { [Route.Write] = Target.AtLeastRatio(0.15) }),
            new("postgres-mx", "postgres", false, withRefresh, new Dictionary<Route, Target>(With(pgTokens, Route.Me, 0.40)) { [Route.Write] = Target.AtLeastRatio(0.15) }, Multiplexing: true),
            new("postgres-nc", "postgres", true, withRefresh, With(pgTokens, Route.Me, 0.85)),
            new("redis", "redis", false, cookieAndBearer, new Dictionary<Route, Target> { [Route.Me] = Target.AtLeastRatio(0.50) }),
            new("redis-nc", "redis", true, cookieAndBearer, new Dictionary<Route, Target> { [Route.Me] = Target.AtLeastRatio(0.85) }),
            new("compas", "compas", false, [Route.CompasRefresh], new Dictionary<Route, Target>()),
            new("addsession", "addsession", false, [Route.Health, Route.Me, Route.Write], new Dictionary<Route, Target>
            {
                [Route.Me] = new(null, null, "measured; the issue expects ~0.55"),
            }),
        ];
    }
}
