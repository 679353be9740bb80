using static Tessera.Testing.HostileCredentials;

namespace Tessera.Testing;

/// <summary>How a hostile case reaches the server.</summary>
internal enum HostileChannel
{
    /// <summary>The session cookie: <c>GET /id</c> answers <c>(new)</c> when no session was found.</summary>
    Cookie,

    /// <summary><c>Authorization: Bearer</c>: <c>GET /auth/user</c> and <c>POST /tokens/logout</c>, 401 with a challenge when rejected.</summary>
    Bearer,

    /// <summary>The refresh endpoint: <c>POST /tokens/refresh</c> with <c>{"refreshToken": ...}</c>, 401 with a challenge when rejected.</summary>
    Refresh,
}

/// <summary>What a hostile case must get.</summary>
internal enum HostileOutcome
{
    /// <summary>No session: anonymous on a cookie route, 401 with the expected challenge on a bearer or refresh route.</summary>
    NoSession,

    /// <summary>The request never reaches Tessera: the server (Kestrel, or the endpoint's body limit) answers this status.</summary>
    Refused,

    /// <summary>
    /// The very session of the valid credential the case carries: the case is the same credential in a spelling the
    /// HTTP layer undoes (optional whitespace, percent-encoding of a cookie value, ...), never a forgery.
    /// </summary>
    SameSession,
}

/// <summary>A case's expectation: the outcome, the bearer challenge's reason, or the refusing status.</summary>
/// <param name="Outcome">The outcome.</param>
/// <param name="Reason">
/// For <see cref="HostileOutcome.NoSession"/> over a bearer or refresh route, the challenge's <c>error_description</c>;
/// <see langword="null"/> for a bare <c>Bearer</c> challenge (no bearer credential presented at all).
/// </param>
/// <param name="Status">For <see cref="HostileOutcome.Refused"/>, the status.</param>
internal readonly record struct HostileExpectation(HostileOutcome Outcome, string? Reason = null, int Status = 0)
{
    public static HostileExpectation Anonymous => new(HostileOutcome.NoSession);

    public static HostileExpectation SameSession => new(HostileOutcome.SameSession);

    public static HostileExpectation Rejected(string? reason) => new(HostileOutcome.NoSession, reason);

    public static HostileExpectation RefusedWith(int status) => new(HostileOutcome.Refused, Status: status);

    public override string ToString() => Outcome switch
    {
        HostileOutcome.NoSession => Reason is null ? "no session" : $"no session ({Reason})",
        HostileOutcome.Refused => $"refused with {Status}",
        _ => "the session of the credential it carries",
    };
}

/// <summary>What a case sends: credentials framed by the channel, or a raw header value.</summary>
/// <param name="Credentials">
/// The credential texts. Cookie: each becomes <c>name=value</c>, joined by <c>; </c> in one header. Bearer: each becomes
/// one <c>Bearer</c> value. Refresh: the first becomes the body's <c>refreshToken</c>. Every one is also a secret the
/// logs and responses must not contain.
/// </param>
internal sealed record HostileInput(IReadOnlyList<string> Credentials)
{
    /// <summary>The whole header value to send instead of the channel's framing (the credentials are then only secrets).</summary>
    public string? RawHeader { get; init; }

    /// <summary>Whether header values go out as Latin-1 bytes (to send bytes that are not UTF-8).</summary>
    public bool Latin1 { get; init; }

    /// <summary>For <see cref="HostileOutcome.SameSession"/>, the session the credential belongs to.</summary>
    public string? SessionId { get; init; }

    public static HostileInput Of(params string[] credentials) => new(credentials);
}

/// <summary>One row of the table.</summary>
/// <param name="Name">The row's name, <c>channel/what</c>, unique.</param>
/// <param name="Channel">How it is sent.</param>
/// <param name="Expect">What it must get.</param>
/// <param name="Prepare">Builds what to send from the setup (may create, revoke or delete sessions of its own).</param>
/// <param name="MovesClock">Whether it moves the shared clock (such rows run last, each on credentials it creates).</param>
internal sealed record HostileCase(string Name, HostileChannel Channel, HostileExpectation Expect, Func<HostileSetup, Task<HostileInput>> Prepare, bool MovesClock = false)
{
    public override string ToString() => Name;
}

/// <summary>
/// The hostile-input table: every malformed, forged, foreign, stale or oversized credential the suite sends, one named
/// row each. Rows expecting <see cref="HostileOutcome.SameSession"/> document spellings of a valid credential that the
/// HTTP layer undoes before Tessera sees them; every other row expects no session.
/// </summary>
internal static partial class HostileInputCases
{
    private const int Kestrel431 = 431;

    // Hostile strings that are no credential at all, sent over every channel: injection attempts for the stores'
    // query languages and for whatever logs or renders a credential, and the shapes careless clients send.
    private static readonly (string Label, string Value)[] Garbage =
    [
        ("null", "null"),
        ("undefined", "undefined"),
        ("zero", "0"),
        ("minus-one", "-1"),
        ("true", "true"),
        ("empty-array", "[]"),
        ("empty-object", "{}"),
        ("nan", "NaN"),
        ("html", "<script>alert(1)</script>"),
        ("sql-or", "' OR '1'='1' --"),
        ("sql-drop", "\"; DROP TABLE sessions; --"),
        ("path-traversal", "../../../../etc/passwd"),
        ("jndi", "${jndi:ldap://127.0.0.1/a}"),
        ("template", "{{7*7}}"),
        ("percent-nul", "%00"),
        ("percent-crlf-set-cookie", "%0d%0aSet-Cookie:%20x=1"),
        ("resp-inline", "*1\\r\\n$8\\r\\nFLUSHALL"),
        ("jwt-none-empty", "eyJhbGciOiJub25lIn0.e30."),
        ("two-segments", "a.b"),
        ("three-segments", "a.b.c"),
        ("right-shape-all-A", new string('A', 43) + "." + new string('A', 43)),
        ("right-shape-all-underscore", new string('_', 43) + "." + new string('_', 43)),
    ];

    /// <summary>The rows, in the order they run (rows that move the clock last). Declared after <see cref="Garbage"/>, which it uses.</summary>
    public static IReadOnlyList<HostileCase> All { get; } = Build();

    private static List<HostileCase> Build()
    {
        var cases = new List<HostileCase>();
        AddCookieShapes(cases);
        AddCookieForgeries(cases);
        AddCookieEncodings(cases);
        AddCookieHeaders(cases);
        AddCookieLifecycle(cases);
        AddBearerFraming(cases);
        AddBearerShapes(cases);
        AddJwtHeaders(cases);
        AddJwtPayloads(cases);
        AddTokenLifecycle(cases);
        AddRefreshCases(cases);
        foreach (var (label, value) in Garbage)
        {
            cases.Add(Cookie($"garbage-{label}", _ => value));
            cases.Add(Bearer($"garbage-{label}", "invalid_token", _ => value));
            cases.Add(Refresh($"garbage-{label}", "invalid_token", _ => value));
        }
        var duplicate = cases.GroupBy(c => c.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new InvalidOperationException($"Two hostile cases are named {duplicate.Key}.");
        }
        return [.. cases.OrderBy(c => c.MovesClock)];
    }

    // The index of the first, middle or last character of segment `segment` of a dotted token.
    private static int Position(string token, int segment, string where)
    {
        var parts = token.Split('.');
        var start = parts.Take(segment).Sum(p => p.Length + 1);
        var length = parts[segment].Length;
        return start + where switch
        {
            "first" => 0,
            "middle" => length / 2,
            _ => length - 1,
        };
    }

    private static Task<HostileInput> Done(HostileInput input) => Task.FromResult(input);

    private static HostileCase Cookie(string name, Func<HostileSetup, string> value) =>
        Cookie(name, HostileExpectation.Anonymous, value);

    private static HostileCase Cookie(string name, HostileExpectation expect, Func<HostileSetup, string> value, bool latin1 = false) =>
        new($"cookie/{name}", HostileChannel.Cookie, expect, s => Done(new HostileInput([value(s)]) { Latin1 = latin1 }));

    private static HostileCase SameCookie(string name, Func<HostileSetup, string> value) =>
        new($"cookie/{name}", HostileChannel.Cookie, HostileExpectation.SameSession, s =>
            Done(new HostileInput([value(s), s.Alice.Value]) { RawHeader = $"{s.CookieName}={value(s)}", SessionId = s.Alice.SessionId }));

    private static HostileCase CookieHeader(string name, HostileExpectation expect, Func<HostileSetup, string> header, Func<HostileSetup, string[]> secrets, Func<HostileSetup, string>? session = null) =>
        new($"cookie/{name}", HostileChannel.Cookie, expect, s =>
            Done(new HostileInput(secrets(s)) { RawHeader = header(s), SessionId = session?.Invoke(s) }));

    private static HostileCase CookieAsync(string name, Func<HostileSetup, Task<string>> value, bool movesClock = false) =>
        new($"cookie/{name}", HostileChannel.Cookie, HostileExpectation.Anonymous, async s => HostileInput.Of(await value(s)), movesClock);

    private static HostileCase Bearer(string name, string? reason, Func<HostileSetup, string> token) =>
        Bearer(name, HostileExpectation.Rejected(reason), token);

    private static HostileCase Bearer(string name, HostileExpectation expect, Func<HostileSetup, string> token, bool latin1 = false) =>
        new($"bearer/{name}", HostileChannel.Bearer, expect, s => Done(new HostileInput([token(s)]) { Latin1 = latin1 }));

    private static HostileCase BearerHeader(string name, string? reason, Func<HostileSetup, string> header) =>
        new($"bearer/{name}", HostileChannel.Bearer, HostileExpectation.Rejected(reason), s =>
            Done(new HostileInput([header(s)]) { RawHeader = header(s) }));

    private static HostileCase Refresh(string name, string reason, Func<HostileSetup, string> token) =>
        Refresh(name, HostileExpectation.Rejected(reason), token);

    private static HostileCase Refresh(string name, HostileExpectation expect, Func<HostileSetup, string> token) =>
        new($"refresh/{name}", HostileChannel.Refresh, expect, s => Done(HostileInput.Of(token(s))));

    // A cookie that worked until the client's second request (say /destroy) took it away.
    private static HostileCase CookieBetween(string name, string first, string then) => CookieAsync(name, async s =>
    {
        using var client = s.Server.CreateClient();
        await client.PostAsync(first);
        var cookie = client.Cookie!;
        await client.PostAsync(then);
        return cookie;
    });

    // The access or refresh token of a fresh token session after something happened to it.
    private static HostileCase AfterPair(HostileChannel channel, string name, string reason, Func<HostileSetup, HostileTokens, Task> fate, bool movesClock = false) =>
        new($"{(channel == HostileChannel.Bearer ? "bearer" : "refresh")}/{name}", channel, HostileExpectation.Rejected(reason), async s =>
        {
            var pair = await s.PairAsync("frank");
            await fate(s, pair);
            return HostileInput.Of(channel == HostileChannel.Bearer ? pair.Access : pair.Refresh);
        }, movesClock);
}
