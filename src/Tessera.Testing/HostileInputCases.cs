using System.Security.Cryptography;
using System.Text;
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
internal static class HostileInputCases
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

    private static void AddCookieShapes(List<HostileCase> cases)
    {
        static string V(HostileSetup s) => s.Alice.Value;
        static string T(HostileSetup s) => Segment(s.Alice.Value, 0);
        static string M(HostileSetup s) => Segment(s.Alice.Value, 1);
        cases.Add(Cookie("empty", _ => string.Empty));
        cases.Add(Cookie("whitespace", _ => "   "));
        cases.Add(Cookie("dot-only", _ => "."));
        cases.Add(Cookie("token-only", T));
        cases.Add(Cookie("token-dot", s => T(s) + "."));
        cases.Add(Cookie("dot-mac", s => "." + M(s)));
        cases.Add(Cookie("mac-dot-token", s => M(s) + "." + T(s)));
        cases.Add(Cookie("no-dot", s => T(s) + M(s)));
        cases.Add(Cookie("dot-moved", s => T(s)[..42] + "." + T(s)[42] + M(s)));
        cases.Add(Cookie("dot-in-mac", s => T(s) + "." + Replace(M(s), 10, ".")));
        foreach (var cut in new[] { 1, 2, 3, 10, 42 })
        {
            cases.Add(Cookie($"truncated-end-{cut}", s => V(s)[..^cut]));
        }
        foreach (var cut in new[] { 1, 10 })
        {
            cases.Add(Cookie($"truncated-start-{cut}", s => V(s)[cut..]));
        }
        cases.Add(Cookie("extra-char", s => V(s) + "A"));
        cases.Add(Cookie("extra-two-chars", s => V(s) + "AA"));
        cases.Add(Cookie("padding-1", s => V(s) + "="));
        cases.Add(Cookie("padding-2", s => V(s) + "=="));
        cases.Add(Cookie("token-padded", s => T(s) + "=." + M(s)));
        cases.Add(Cookie("trailing-dot", s => V(s) + "."));
        cases.Add(Cookie("third-segment", s => V(s) + "." + M(s)));
        cases.Add(Cookie("doubled", s => V(s) + V(s)));
        cases.Add(Cookie("doubled-with-dot", s => V(s) + "." + V(s)));
        foreach (var (label, size) in new[] { ("1kb", 1024), ("4kb", 4096), ("8kb", 8192), ("16kb", 16384), ("30kb", 30 * 1024) })
        {
            cases.Add(Cookie($"oversized-{label}", _ => new string('A', size)));
        }
        cases.Add(Cookie("valid-then-16kb", s => V(s) + new string('A', 16384)));
        cases.Add(Cookie("oversized-32kb", HostileExpectation.RefusedWith(Kestrel431), _ => new string('A', 32 * 1024)));
        cases.Add(Cookie("oversized-64kb", HostileExpectation.RefusedWith(Kestrel431), _ => new string('A', 64 * 1024)));
        // Bits 0 to 4 only: no base64url character turns into NUL, CR or LF (which Kestrel refuses; rows below cover
        // those), so every flip reaches Tessera. 42 and 86 are the last characters of the two segments, whose low bits
        // are unused.
        foreach (var position in new[] { 0, 21, 42, 43, 44, 65, 86 })
        {
            for (var bit = 0; bit <= 4; bit++)
            {
                var (p, b) = (position, bit);
                cases.Add(Cookie($"flip-char{p}-bit{b}", s => FlipBit(V(s), p, b)));
            }
        }
        for (var by = 1; by <= 3; by++)
        {
            var step = by;
            cases.Add(Cookie($"token-last-char-noncanonical-{step}", s => BumpLastChar(T(s), step) + "." + M(s)));
            cases.Add(Cookie($"mac-last-char-noncanonical-{step}", s => T(s) + "." + BumpLastChar(M(s), step)));
        }
        cases.Add(Cookie("uppercase", s => V(s).ToUpperInvariant()));
        cases.Add(Cookie("lowercase", s => V(s).ToLowerInvariant()));
        cases.Add(Cookie("swapped-case", s => SwapCase(V(s))));
    }

    private static void AddCookieForgeries(List<HostileCase> cases)
    {
        static string T(HostileSetup s) => Segment(s.Alice.Value, 0);
        static string Issue(byte[] key) => new CookieCredential(new SigningKeyRing([key])).Issue().Value;
        cases.Add(Cookie("unknown-key", _ => Issue(RandomNumberGenerator.GetBytes(32))));
        cases.Add(Cookie("neighbour-key", s =>
        {
            var key = (byte[])s.KeyBytes.Clone();
            key[^1] ^= 1;
            return Issue(key);
        }));
        cases.Add(Cookie("zero-key", _ => Issue(new byte[32])));
        cases.Add(Cookie("right-key-no-purpose", s => T(s) + "." + B64(HMACSHA256.HashData(s.KeyBytes, Bytes(T(s))))));
        cases.Add(Cookie("right-key-over-text", s => T(s) + "." + B64(HMACSHA256.HashData(s.KeyBytes, Encoding.ASCII.GetBytes(T(s))))));
        cases.Add(Cookie("unkeyed-sha256", s => T(s) + "." + B64(SHA256.HashData(Bytes(T(s))))));
        cases.Add(Cookie("mac-all-zero", s => T(s) + "." + B64(new byte[32])));
        cases.Add(Cookie("hs512-mac", s => T(s) + "." + B64(HMACSHA512.HashData(s.KeyBytes, Bytes(T(s))))));
        // Signed with the server's own key and format, but never issued: only the store can say no.
        cases.Add(Cookie("signed-never-stored", s => s.Manager.Credentials.Issue().Value));
        cases.Add(Cookie("token-of-bob-mac-of-alice", s => Segment(s.Bob.Value, 0) + "." + Segment(s.Alice.Value, 1)));
        cases.Add(Cookie("token-of-alice-mac-of-bob", s => Segment(s.Alice.Value, 0) + "." + Segment(s.Bob.Value, 1)));
        cases.Add(Cookie("session-id", s => s.Alice.SessionId));
        cases.Add(Cookie("access-token", s => s.Carol.Access));
        cases.Add(Cookie("refresh-token", s => s.Carol.Refresh));
    }

    private static void AddCookieEncodings(List<HostileCase> cases)
    {
        static string V(HostileSetup s) => s.Alice.Value;
        cases.Add(Cookie("std-base64-padded", s => StandardBase64(V(s), padded: true)));
        cases.Add(new HostileCase("cookie/std-base64", HostileChannel.Cookie, HostileExpectation.Anonymous, async s =>
            HostileInput.Of(StandardBase64((await s.CookieWhereAsync(HasUrlOnlyCharacters)).Value, padded: false))));
        cases.Add(Cookie("hex", s => Hex(V(s))));
        cases.Add(Cookie("percent-encoded-bytes", s => PercentBytes(V(s))));
        cases.Add(Cookie("double-percent-encoded", s => PercentText(PercentText(V(s)))));
        cases.Add(Cookie("base64-of-text", s => Convert.ToBase64String(Encoding.ASCII.GetBytes(V(s)))));
        cases.Add(Cookie("quoted", s => "\"" + V(s) + "\""));
        cases.Add(Cookie("leading-space", s => " " + V(s)));
        // The session cookie is read as sent: a percent-encoded spelling of a valid cookie is not that cookie (a
        // credential never needs encoding). HTTP strips optional whitespace around a header value, so these two spell
        // alice's own cookie, which only its holder can produce.
        cases.Add(Cookie("percent-encoded-text", s => PercentText(V(s))));
        cases.Add(Cookie("percent-encoded-dot", s => V(s).Replace(".", "%2E", StringComparison.Ordinal)));
        cases.Add(SameCookie("trailing-space", s => V(s) + " "));
        cases.Add(SameCookie("trailing-tab", s => V(s) + "\t"));
        // Non-ASCII goes out as UTF-8, which Kestrel accepts; bytes that are not UTF-8 are Kestrel's to refuse.
        cases.Add(Cookie("utf8-prefix", s => "é" + V(s)));
        cases.Add(Cookie("utf8-replacing-a-char", s => Replace(V(s), 10, "é")));
        cases.Add(Cookie("emoji", s => Insert(V(s), 20, "\U0001F600")));
        cases.Add(Cookie("zero-width-space", s => Insert(V(s), 43, "\u200B")));
        cases.Add(Cookie("bom-prefix", s => "\uFEFF" + V(s)));
        cases.Add(Cookie("cyrillic-homoglyph", s => Replace(V(s), 5, "\u0410")));
        cases.Add(Cookie("fullwidth-dot", s => V(s).Replace(".", "\uFF0E", StringComparison.Ordinal)));
        cases.Add(Cookie("rtl-override", s => "\u202E" + V(s)));
        cases.Add(Cookie("nbsp-suffix", s => V(s) + "\u00A0"));
        cases.Add(Cookie("replacement-char", s => Replace(V(s), 30, "\uFFFD")));
        cases.Add(Cookie("latin1-byte", HostileExpectation.RefusedWith(400), s => Replace(V(s), 10, "\u00FF"), latin1: true));
        cases.Add(Cookie("overlong-utf8-dot", HostileExpectation.RefusedWith(400), s => V(s).Replace(".", "\u00C0\u00AE", StringComparison.Ordinal), latin1: true));
        // Control characters: Kestrel refuses NUL, CR and LF in a header; the others reach Tessera.
        foreach (var (label, control) in new[] { ("soh", "\u0001"), ("backspace", "\b"), ("tab-inside", "\t"), ("vertical-tab", "\v"), ("form-feed", "\f"), ("escape", "\u001B"), ("unit-separator", "\u001F"), ("delete", "\u007F") })
        {
            cases.Add(Cookie($"control-{label}", s => Insert(V(s), 10, control)));
        }
        foreach (var (label, control) in new[] { ("nul", "\0"), ("cr", "\r"), ("lf", "\n"), ("crlf", "\r\n"), ("obs-fold", "\r\n ") })
        {
            cases.Add(Cookie($"control-{label}", HostileExpectation.RefusedWith(400), s => Insert(V(s), 10, control)));
        }
    }

    private static void AddCookieHeaders(List<HostileCase> cases)
    {
        // Two cookies of the session's name with different values are ambiguous (one may have been planted next to the
        // other): no session, whichever comes first. An empty one is ignored, and the same value twice is that value.
        cases.Add(CookieHeader("duplicate-valid-then-garbage", HostileExpectation.Anonymous, s => $"{s.CookieName}={s.Alice.Value}; {s.CookieName}=garbage", s => [s.Alice.Value]));
        cases.Add(CookieHeader("duplicate-valid-then-empty", HostileExpectation.SameSession, s => $"{s.CookieName}={s.Alice.Value}; {s.CookieName}=", s => [s.Alice.Value], s => s.Alice.SessionId));
        cases.Add(CookieHeader("duplicate-valid-then-flipped", HostileExpectation.Anonymous, s => $"{s.CookieName}={s.Alice.Value}; {s.CookieName}={FlipBit(s.Alice.Value, 30, 1)}", s => [s.Alice.Value]));
        cases.Add(CookieHeader("duplicate-garbage-then-valid", HostileExpectation.Anonymous, s => $"{s.CookieName}=garbage; {s.CookieName}={s.Alice.Value}", s => [s.Alice.Value]));
        cases.Add(CookieHeader("duplicate-alice-then-bob", HostileExpectation.Anonymous, s => $"{s.CookieName}={s.Alice.Value}; {s.CookieName}={s.Bob.Value}", s => [s.Alice.Value, s.Bob.Value]));
        cases.Add(CookieHeader("duplicate-bob-then-alice", HostileExpectation.Anonymous, s => $"{s.CookieName}={s.Bob.Value}; {s.CookieName}={s.Alice.Value}", s => [s.Alice.Value, s.Bob.Value]));
        cases.Add(CookieHeader("duplicate-same-value-twice", HostileExpectation.SameSession, s => $"{s.CookieName}={s.Alice.Value}; {s.CookieName}={s.Alice.Value}", s => [s.Alice.Value], s => s.Alice.SessionId));
        cases.Add(CookieHeader("duplicate-comma-joined", HostileExpectation.Anonymous, s => $"{s.CookieName}={s.Alice.Value},{s.CookieName}={s.Bob.Value}", s => [s.Alice.Value, s.Bob.Value]));
        // Outside Development the cookie is __Host-tessera: a cookie named plain tessera (which any subdomain can set) is not read.
        cases.Add(CookieHeader("unprefixed-name", HostileExpectation.Anonymous, s => $"tessera={s.Alice.Value}", s => [s.Alice.Value]));
        cases.Add(CookieHeader("name-percent-encoded", HostileExpectation.Anonymous, s => $"{s.CookieName.Replace("-", "%2D", StringComparison.Ordinal)}={s.Alice.Value}", s => [s.Alice.Value]));
        cases.Add(CookieHeader("name-with-space", HostileExpectation.Anonymous, s => $"{s.CookieName} ={s.Alice.Value}", s => [s.Alice.Value]));
        cases.Add(CookieHeader("empty-name", HostileExpectation.Anonymous, s => $"={s.Alice.Value}", s => [s.Alice.Value]));
        cases.Add(CookieHeader("name-only", HostileExpectation.Anonymous, s => s.CookieName, _ => []));
        cases.Add(CookieHeader("value-after-two-equals", HostileExpectation.Anonymous, s => $"{s.CookieName}=={s.Alice.Value}", s => [s.Alice.Value]));
        // Cookie names are case-sensitive: __HOST-TESSERA is another cookie (which an old browser might let a sibling
        // domain set, since the prefix rule would not apply to it), so it is not read.
        cases.Add(CookieHeader("name-in-upper-case", HostileExpectation.Anonymous, s => $"{s.CookieName.ToUpperInvariant()}={s.Alice.Value}", s => [s.Alice.Value]));
    }

    private static void AddCookieLifecycle(List<HostileCase> cases)
    {
        cases.Add(CookieBetween("destroyed", "/signin/erin", "/destroy"));
        cases.Add(CookieBetween("regenerated-old", "/signin/erin", "/regenerate"));
        cases.Add(CookieBetween("pre-sign-in", "/set/cart/apple", "/signin/erin"));
        cases.Add(CookieAsync("revoked", async s =>
        {
            var cookie = await s.SignInAsync("erin");
            await s.Manager.RevokeAsync(cookie.SessionId);
            return cookie.Value;
        }));
        cases.Add(CookieAsync("deleted", async s =>
        {
            var cookie = await s.SignInAsync("erin");
            await s.Store.DeleteAsync(cookie.SessionId);
            return cookie.Value;
        }));
        cases.Add(CookieAsync("idle-expired", async s =>
        {
            var cookie = await s.SignInAsync("erin");
            s.Clock.Advance(s.Manager.Options.IdleTimeout + TimeSpan.FromSeconds(1));
            return cookie.Value;
        }, movesClock: true));
        cases.Add(CookieAsync("absolute-expired", async s =>
        {
            using var client = s.Server.CreateClient();
            await client.PostAsync("/signin/erin");
            var cookie = client.Cookie!;
            var end = s.Clock.GetUtcNow() + s.Manager.Options.AbsoluteLifetime;
            // Kept busy (a request every 20 minutes) so only the absolute lifetime can end it.
            while (s.Clock.GetUtcNow() < end)
            {
                s.Clock.Advance(TimeSpan.FromMinutes(20));
                client.Cookie = cookie;
                using var response = await client.SendAsync(HttpMethod.Get, "/id");
            }
            return cookie;
        }, movesClock: true));
    }

    private static void AddBearerFraming(List<HostileCase> cases)
    {
        cases.Add(BearerHeader("scheme-only", "invalid_token", _ => "Bearer"));
        cases.Add(BearerHeader("scheme-and-spaces", "invalid_token", _ => "Bearer    "));
        cases.Add(BearerHeader("empty-authorization-header", null, _ => string.Empty));
        cases.Add(BearerHeader("basic-scheme", null, s => "Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes("carol:" + s.Carol.Access))));
        cases.Add(BearerHeader("scheme-without-space", null, s => "Bearer" + s.Carol.Access));
        cases.Add(BearerHeader("scheme-then-tab", null, s => "Bearer\t" + s.Carol.Access));
        cases.Add(BearerHeader("scheme-then-comma", null, s => "Bearer," + s.Carol.Access));
        cases.Add(BearerHeader("two-tokens", "invalid_token", s => $"Bearer {s.Carol.Access} {s.Carol.Access}"));
        cases.Add(BearerHeader("token-then-junk", "invalid_token", s => $"Bearer {s.Carol.Access} junk"));
        cases.Add(BearerHeader("quoted-token", "invalid_token", s => $"Bearer \"{s.Carol.Access}\""));
        cases.Add(BearerHeader("auth-param", "invalid_token", s => $"Bearer token={s.Carol.Access}"));
        cases.Add(BearerHeader("two-schemes-in-one", "invalid_token", s => $"Bearer {s.Carol.Access}, Bearer {s.Dave.Access}"));
        cases.Add(new HostileCase("bearer/two-headers", HostileChannel.Bearer, HostileExpectation.Rejected("invalid_token"), s => Done(HostileInput.Of(s.Carol.Access, s.Dave.Access))));
        // RFC 6750 asks for one space; Tessera trims extra spaces, and HTTP strips trailing whitespace: carol's own token.
        cases.Add(new HostileCase("bearer/two-spaces", HostileChannel.Bearer, HostileExpectation.SameSession, s =>
            Done(new HostileInput([s.Carol.Access]) { RawHeader = "Bearer  " + s.Carol.Access, SessionId = s.Carol.SessionId })));
        cases.Add(new HostileCase("bearer/trailing-space", HostileChannel.Bearer, HostileExpectation.SameSession, s =>
            Done(new HostileInput([s.Carol.Access]) { RawHeader = $"Bearer {s.Carol.Access} ", SessionId = s.Carol.SessionId })));
    }

    private static void AddBearerShapes(List<HostileCase> cases)
    {
        static string A(HostileSetup s) => s.Carol.Access;
        static string H(HostileSetup s) => Segment(s.Carol.Access, 0);
        static string P(HostileSetup s) => Segment(s.Carol.Access, 1);
        static string S(HostileSetup s) => Segment(s.Carol.Access, 2);
        const string Invalid = "invalid_token";
        cases.Add(Bearer("truncated-1", Invalid, s => A(s)[..^1]));
        cases.Add(Bearer("truncated-10", Invalid, s => A(s)[..^10]));
        cases.Add(Bearer("truncated-start-1", Invalid, s => A(s)[1..]));
        cases.Add(Bearer("header-only", Invalid, H));
        cases.Add(Bearer("header-payload", Invalid, s => H(s) + "." + P(s)));
        cases.Add(Bearer("empty-signature", Invalid, s => H(s) + "." + P(s) + "."));
        cases.Add(Bearer("empty-header", Invalid, s => "." + P(s) + "." + S(s)));
        cases.Add(Bearer("empty-payload", Invalid, s => H(s) + ".." + S(s)));
        cases.Add(Bearer("no-dots", Invalid, s => H(s) + P(s) + S(s)));
        cases.Add(Bearer("trailing-dot", Invalid, s => A(s) + "."));
        cases.Add(Bearer("extra-segment", Invalid, s => A(s) + ".e30"));
        cases.Add(Bearer("five-segments", Invalid, s => A(s) + "." + P(s) + "." + S(s)));
        cases.Add(Bearer("payload-twice", Invalid, s => H(s) + "." + P(s) + "." + P(s) + "." + S(s)));
        cases.Add(Bearer("segments-reversed", Invalid, s => S(s) + "." + P(s) + "." + H(s)));
        cases.Add(Bearer("doubled", Invalid, s => A(s) + A(s)));
        // Bits 0 to 2 never turn a base64url character into a dot or a control character.
        foreach (var (segment, where) in new[] { (0, "first"), (0, "middle"), (0, "last"), (1, "first"), (1, "middle"), (1, "last"), (2, "first"), (2, "middle"), (2, "last") })
        {
            for (var bit = 0; bit <= 2; bit++)
            {
                var (seg, place, b) = (segment, where, bit);
                var name = $"flip-{(seg == 0 ? "header" : seg == 1 ? "payload" : "signature")}-{place}-bit{b}";
                cases.Add(Bearer(name, Invalid, s => FlipBit(A(s), Position(A(s), seg, place), b)));
            }
        }
        for (var by = 1; by <= 3; by++)
        {
            var step = by;
            cases.Add(Bearer($"signature-last-char-noncanonical-{step}", Invalid, s => WithSegment(A(s), 2, BumpLastChar(S(s), step))));
        }
        cases.Add(Bearer("payload-last-char-noncanonical", Invalid, s => WithSegment(A(s), 1, BumpLastChar(P(s), 1))));
        cases.Add(Bearer("header-last-char-noncanonical", Invalid, s => WithSegment(A(s), 0, BumpLastChar(H(s), 1))));
        cases.Add(Bearer("padded-1", Invalid, s => A(s) + "="));
        cases.Add(Bearer("padded-2", Invalid, s => A(s) + "=="));
        cases.Add(Bearer("padded-segments", Invalid, s => Padded(A(s))));
        cases.Add(Bearer("std-base64-padded", Invalid, s => StandardBase64(A(s), padded: true)));
        cases.Add(new HostileCase("bearer/std-base64", HostileChannel.Bearer, HostileExpectation.Rejected(Invalid), async s =>
            HostileInput.Of(StandardBase64((await s.PairWhereAsync(HasUrlOnlyCharacters)).Access, padded: false))));
        cases.Add(Bearer("bad-base64-star-in-payload", Invalid, s => Replace(A(s), Position(A(s), 1, "middle"), "*")));
        cases.Add(Bearer("bad-base64-plus-in-header", Invalid, s => Replace(A(s), Position(A(s), 0, "middle"), "+")));
        cases.Add(Bearer("bad-base64-impossible-length", Invalid, s => WithSegment(A(s), 0, H(s) + new string('A', (5 - (H(s).Length % 4)) % 4))));
        cases.Add(Bearer("uppercase", Invalid, s => A(s).ToUpperInvariant()));
        cases.Add(Bearer("lowercase", Invalid, s => A(s).ToLowerInvariant()));
        cases.Add(Bearer("hex-signature", Invalid, s => WithSegment(A(s), 2, Convert.ToHexStringLower(Bytes(S(s))))));
        cases.Add(Bearer("percent-encoded", Invalid, s => PercentText(A(s))));
        cases.Add(Bearer("base64-of-token", Invalid, s => Convert.ToBase64String(Encoding.ASCII.GetBytes(A(s)))));
        cases.Add(Bearer("utf8-inside", Invalid, s => Replace(A(s), 12, "é")));
        cases.Add(Bearer("zero-width-space", Invalid, s => Insert(A(s), 12, "\u200B")));
        cases.Add(Bearer("fullwidth-dot", Invalid, s => A(s).Replace(".", "\uFF0E", StringComparison.Ordinal)));
        cases.Add(Bearer("nbsp-suffix", Invalid, s => A(s) + "\u00A0"));
        cases.Add(Bearer("latin1-byte", HostileExpectation.RefusedWith(400), s => Replace(A(s), 12, "\u00FF"), latin1: true));
        foreach (var (label, control) in new[] { ("soh", "\u0001"), ("tab-inside", "\t"), ("escape", "\u001B"), ("delete", "\u007F") })
        {
            cases.Add(Bearer($"control-{label}", Invalid, s => Insert(A(s), 12, control)));
        }
        foreach (var (label, control) in new[] { ("nul", "\0"), ("cr", "\r"), ("lf", "\n") })
        {
            cases.Add(Bearer($"control-{label}", HostileExpectation.RefusedWith(400), s => Insert(A(s), 12, control)));
        }
        cases.Add(Bearer("max-length-plus-one", Invalid, s => new string('A', s.TokenOptions.MaxTokenLength + 1)));
        cases.Add(Bearer("token-plus-4kb", Invalid, s => A(s) + new string('A', 4096)));
        cases.Add(Bearer("oversized-16kb", Invalid, _ => new string('A', 16 * 1024)));
        cases.Add(Bearer("oversized-30kb", Invalid, _ => new string('A', 30 * 1024)));
        cases.Add(Bearer("oversized-32kb", HostileExpectation.RefusedWith(Kestrel431), _ => new string('A', 32 * 1024)));
        cases.Add(Bearer("oversized-64kb", HostileExpectation.RefusedWith(Kestrel431), _ => new string('A', 64 * 1024)));
        cases.Add(Bearer("refresh-token", "wrong_token_type", s => s.Carol.Refresh));
        cases.Add(Bearer("cookie", Invalid, s => s.Alice.Value));
        cases.Add(Bearer("session-id", Invalid, s => s.Carol.SessionId));
        cases.Add(Bearer("payload-of-dave", Invalid, s => WithSegment(A(s), 1, Segment(s.Dave.Access, 1))));
        cases.Add(Bearer("signature-of-dave", Invalid, s => WithSegment(A(s), 2, Segment(s.Dave.Access, 2))));
        cases.Add(Bearer("signature-of-own-refresh", Invalid, s => WithSegment(A(s), 2, Segment(s.Carol.Refresh, 2))));
    }

    private static void AddJwtHeaders(List<HostileCase> cases)
    {
        const string Invalid = "invalid_token";
        // Claims of carol's real access token: only the header and signature are wrong.
        static string Payload(HostileSetup s) => s.Claims(s.Carol.AccessId, s.Carol.SessionId);
        cases.Add(Bearer("alg-none-unsigned", Invalid, s => s.Forge("""{"alg":"none","typ":"JWT"}""", Payload(s), "none")));
        cases.Add(Bearer("alg-none-with-kid-unsigned", Invalid, s => s.Forge(s.Header("none"), Payload(s), "none")));
        cases.Add(Bearer("alg-none-signed-hs256", Invalid, s => s.Forge(s.Header("none"), Payload(s))));
        cases.Add(Bearer("alg-None", Invalid, s => s.Forge(s.Header("None"), Payload(s), "none")));
        cases.Add(Bearer("alg-NONE", Invalid, s => s.Forge(s.Header("NONE"), Payload(s), "none")));
        cases.Add(Bearer("alg-hs512", Invalid, s => s.Forge(s.Header("HS512"), Payload(s), "HS512")));
        cases.Add(Bearer("alg-hs384", Invalid, s => s.Forge(s.Header("HS384"), Payload(s), "HS384")));
        cases.Add(Bearer("alg-hs512-label-hs256-signature", Invalid, s => s.Forge(s.Header("HS512"), Payload(s))));
        cases.Add(Bearer("alg-rs256", Invalid, s => RsaJwt(s.Kid, Payload(s), embedKey: false)));
        cases.Add(Bearer("alg-rs256-embedded-jwk", Invalid, s => RsaJwt(s.Kid, Payload(s), embedKey: true)));
        cases.Add(Bearer("alg-rs256-hmac-key-confusion", Invalid, s => s.Forge(s.Header("RS256"), Payload(s))));
        cases.Add(Bearer("alg-es256", Invalid, s => EcdsaJwt(s.Kid, Payload(s))));
        cases.Add(Bearer("alg-missing", Invalid, s => s.Forge($$"""{"kid":"{{s.Kid}}","typ":"JWT"}""", Payload(s))));
        cases.Add(Bearer("alg-null", Invalid, s => s.Forge($$"""{"alg":null,"kid":"{{s.Kid}}"}""", Payload(s))));
        cases.Add(Bearer("alg-lowercase", Invalid, s => s.Forge(s.Header("hs256"), Payload(s))));
        cases.Add(Bearer("alg-trailing-space", Invalid, s => s.Forge(s.Header("HS256 "), Payload(s))));
        cases.Add(Bearer("alg-array", Invalid, s => s.Forge($$"""{"alg":["HS256"],"kid":"{{s.Kid}}"}""", Payload(s))));
        cases.Add(Bearer("alg-duplicated", Invalid, s => s.Forge($$"""{"alg":"HS256","alg":"none","kid":"{{s.Kid}}"}""", Payload(s))));
        cases.Add(Bearer("alg-escaped", Invalid, s => s.Forge($$"""{"alg":"HS\u0032\u0035\u0036","kid":"{{s.Kid}}","alg":"HS256"}""", Payload(s))));
        cases.Add(Bearer("kid-unknown", Invalid, s => s.Forge(s.Header(kid: "AAAAAAAA"), Payload(s))));
        cases.Add(Bearer("kid-missing", Invalid, s => s.Forge(s.Header(kid: null), Payload(s))));
        cases.Add(Bearer("kid-empty-string", Invalid, s => s.Forge($$"""{"alg":"HS256","kid":"","typ":"JWT"}""", Payload(s))));
        cases.Add(Bearer("kid-and-key-of-another-ring", Invalid, s =>
        {
            var key = RandomNumberGenerator.GetBytes(32);
            return s.Forge(s.Header(kid: new SigningKeyRing([key]).Current.Id), Payload(s), key: key);
        }));
        cases.Add(Bearer("kid-right-key-wrong", Invalid, s => s.Forge(s.Header(), Payload(s), key: RandomNumberGenerator.GetBytes(32))));
        cases.Add(Bearer("kid-path-traversal", Invalid, s => s.Forge(s.Header(kid: "../../../../dev/null"), Payload(s))));
        cases.Add(Bearer("kid-sql-injection", Invalid, s => s.Forge(s.Header(kid: "x' OR '1'='1"), Payload(s))));
        cases.Add(Bearer("kid-1kb", Invalid, s => s.Forge(s.Header(kid: new string('k', 1024)), Payload(s))));
        cases.Add(Bearer("kid-number", Invalid, s => s.Forge("""{"alg":"HS256","kid":7}""", Payload(s))));
        cases.Add(Bearer("kid-null", Invalid, s => s.Forge("""{"alg":"HS256","kid":null}""", Payload(s))));
        cases.Add(Bearer("typ-jws", Invalid, s => s.Forge(s.Header(typ: "JWS"), Payload(s))));
        cases.Add(Bearer("typ-at-jwt", Invalid, s => s.Forge(s.Header(typ: "at+jwt"), Payload(s))));
        cases.Add(Bearer("typ-lowercase", Invalid, s => s.Forge(s.Header(typ: "jwt"), Payload(s))));
        cases.Add(Bearer("typ-number", Invalid, s => s.Forge($$"""{"alg":"HS256","kid":"{{s.Kid}}","typ":1}""", Payload(s))));
        foreach (var (member, value) in new[] { ("jku", "\"https://attacker.example/keys\""), ("jwk", "{}"), ("x5u", "\"https://attacker.example/cert\""), ("x5c", "[]"), ("crit", "[\"exp\"]"), ("cty", "\"JWT\""), ("zip", "\"DEF\"") })
        {
            var (m, v) = (member, value);
            cases.Add(Bearer($"header-{m}", Invalid, s => s.Forge($$"""{"alg":"HS256","kid":"{{s.Kid}}","{{m}}":{{v}}}""", Payload(s))));
        }
        cases.Add(Bearer("header-array", Invalid, s => s.Forge($$"""["HS256","{{s.Kid}}"]""", Payload(s))));
        cases.Add(Bearer("header-empty-object", Invalid, s => s.Forge("{}", Payload(s))));
        cases.Add(Bearer("header-not-json", Invalid, s => s.Forge("HS256", Payload(s))));
        cases.Add(Bearer("header-trailing-garbage", Invalid, s => s.Forge(s.Header() + "x", Payload(s))));
        cases.Add(Bearer("header-two-objects", Invalid, s => s.Forge(s.Header() + "{}", Payload(s))));
        cases.Add(Bearer("header-bom", Invalid, s => s.Forge("\uFEFF" + s.Header(), Payload(s))));
        cases.Add(Bearer("header-deeply-nested", Invalid, s => s.Forge($$"""{"alg":"HS256","kid":"{{s.Kid}}","x":{{new string('[', 64)}}{{new string(']', 64)}}}""", Payload(s))));
        cases.Add(Bearer("header-invalid-utf8", Invalid, s =>
            SignSegments(B64([.. Encoding.ASCII.GetBytes("{\"alg\":\"HS256\",\"kid\":\""), 0xFF, 0xFE, .. Encoding.ASCII.GetBytes("\"}")]), B64(Payload(s)), s.KeyBytes)));
        cases.Add(Bearer("header-lone-surrogate-kid", Invalid, s => s.Forge("""{"alg":"HS256","kid":"\ud800"}""", Payload(s))));
        cases.Add(Bearer("compas-profile", Invalid, s => s.Forge("""{"alg":"HS256","typ":"JWT"}""", $$"""{"exp":{{s.Now + 300}},"compasSessionAccessToken":"{{s.Carol.AccessId}}"}""")));
    }

    private static void AddJwtPayloads(List<HostileCase> cases)
    {
        const string Invalid = "invalid_token";
        cases.Add(Bearer("exp-missing", Invalid, s => s.ForgeToken(exp: null)));
        foreach (var (label, value) in new[] { ("string", "\"9999999999\""), ("float", "1.5"), ("null", "null"), ("negative", "-1"), ("beyond-year-9999", "253402300800"), ("1e400", "1e400"), ("object", "{}"), ("true", "true") })
        {
            var (l, v) = (label, value);
            cases.Add(Bearer($"exp-{l}", Invalid, s => s.ForgeToken(exp: null, extra: $"\"exp\":{v}")));
        }
        // Well formed and signed with the server's key, but expired: rejected before the store is asked.
        cases.Add(Bearer("exp-past", "expired_token", s => s.ForgeToken(iat: s.Now - 3600, exp: s.Now - 600)));
        cases.Add(Bearer("nbf-future", Invalid, s => s.ForgeToken(extra: $"\"nbf\":{s.Now + 3600}")));
        cases.Add(Bearer("nbf-string", Invalid, s => s.ForgeToken(extra: "\"nbf\":\"0\"")));
        cases.Add(Bearer("iat-future", Invalid, s => s.ForgeToken(iat: s.Now + 3600, exp: s.Now + 3900)));
        cases.Add(Bearer("iat-missing", Invalid, s => s.ForgeToken(iat: null)));
        cases.Add(Bearer("iat-string", Invalid, s => s.ForgeToken(iat: null, extra: "\"iat\":\"now\"")));
        cases.Add(Bearer("jti-missing", Invalid, s => s.ForgeToken(jti: null)));
        cases.Add(Bearer("sid-missing", Invalid, s => s.ForgeToken(sid: null)));
        cases.Add(Bearer("token-use-missing", Invalid, s => s.ForgeToken(use: null)));
        cases.Add(Bearer("token-use-id", Invalid, s => s.ForgeToken(use: "id")));
        cases.Add(Bearer("token-use-uppercase", Invalid, s => s.ForgeToken(use: "ACCESS")));
        cases.Add(Bearer("token-use-number", Invalid, s => s.ForgeToken(use: null, extra: "\"token_use\":1")));
        cases.Add(Bearer("token-use-refresh", "wrong_token_type", s => s.ForgeToken(use: "refresh")));
        cases.Add(Bearer("jti-not-uuid", Invalid, s => s.ForgeToken(jti: "not-a-uuid")));
        cases.Add(Bearer("jti-sql-injection", Invalid, s => s.ForgeToken(jti: "' OR '1'='1")));
        cases.Add(Bearer("jti-number", Invalid, s => s.ForgeToken(jti: null, extra: "\"jti\":12345")));
        cases.Add(Bearer("sid-not-uuid", Invalid, s => s.ForgeToken(sid: "*")));
        cases.Add(Bearer("jti-uuid-without-dashes", Invalid, s => s.ForgeToken(jti: Guid.NewGuid().ToString("N"))));
        cases.Add(Bearer("jti-lone-surrogate", Invalid, s => s.ForgeToken(jti: null, extra: "\"jti\":\"\\ud800\"")));
        cases.Add(Bearer("duplicate-jti", Invalid, s => s.ForgeToken(extra: $"\"jti\":\"{Guid.NewGuid()}\"")));
        cases.Add(Bearer("duplicate-sid", Invalid, s => s.ForgeToken(sid: s.Carol.SessionId, jti: s.Carol.AccessId, extra: $"\"sid\":\"{s.Dave.SessionId}\"")));
        cases.Add(Bearer("duplicate-token-use", Invalid, s => s.ForgeToken(jti: s.Carol.RefreshId, sid: s.Carol.SessionId, use: "refresh", extra: "\"token_use\":\"access\"")));
        cases.Add(Bearer("duplicate-exp-escaped", Invalid, s => s.ForgeToken(extra: $"\"\\u0065xp\":{s.Now + 999999}")));
        cases.Add(Bearer("payload-array", Invalid, s => s.Forge(s.Header(), "[]")));
        cases.Add(Bearer("payload-empty-object", Invalid, s => s.Forge(s.Header(), "{}")));
        cases.Add(Bearer("payload-not-json", Invalid, s => s.Forge(s.Header(), "access")));
        cases.Add(Bearer("payload-trailing-garbage", Invalid, s => s.Forge(s.Header(), s.Claims() + "x")));
        cases.Add(Bearer("payload-deeply-nested", Invalid, s => s.ForgeToken(extra: $"\"x\":{new string('[', 64)}{new string(']', 64)}")));
        cases.Add(Bearer("payload-many-claims", Invalid, s => s.ForgeToken(extra: string.Join(',', Enumerable.Range(0, 40).Select(i => $"\"c{i}\":{i}")))));
        cases.Add(Bearer("payload-invalid-utf8", Invalid, s => SignSegments(
            B64(s.Header()), B64([.. Encoding.ASCII.GetBytes(s.Claims()[..^1] + ",\"x\":\""), 0xC3, 0x28, .. Encoding.ASCII.GetBytes("\"}")]), s.KeyBytes)));
        // Forged with the server's own key: only what the store knows can refuse these.
        cases.Add(Bearer("jti-never-issued", "invalid_session", s => s.ForgeToken()));
        cases.Add(Bearer("jti-of-carol-sid-of-dave", Invalid, s => s.ForgeToken(jti: s.Carol.AccessId, sid: s.Dave.SessionId)));
        cases.Add(Bearer("jti-of-carols-refresh-as-access", "wrong_token_type", s => s.ForgeToken(jti: s.Carol.RefreshId, sid: s.Carol.SessionId)));
        cases.Add(Bearer("jti-of-daves-access-sid-of-carol", Invalid, s => s.ForgeToken(jti: s.Dave.AccessId, sid: s.Carol.SessionId)));
    }

    // The same fates for an access token (sent as Bearer) and a refresh token (sent to the refresh endpoint), each on a
    // session of its own.
    private static void AddTokenLifecycle(List<HostileCase> cases)
    {
        foreach (var channel in new[] { HostileChannel.Bearer, HostileChannel.Refresh })
        {
            var bearer = channel == HostileChannel.Bearer;
            cases.Add(AfterPair(channel, "revoked-session", "revoked_token", (s, pair) => s.Manager.Tokens.InvalidateAsync(pair.Access).AsTask()));
            cases.Add(AfterPair(channel, "session-revoked-by-id", "revoked_token", (s, pair) => s.Manager.RevokeAsync(pair.SessionId).AsTask()));
            cases.Add(AfterPair(channel, "deleted-session", "invalid_session", (s, pair) => s.Store.DeleteAsync(pair.SessionId).AsTask()));
            cases.Add(AfterPair(channel, "expired", "expired_token", (s, _) =>
            {
                var lifetime = bearer ? s.TokenOptions.AccessTokenLifetime : s.TokenOptions.RefreshTokenLifetime;
                s.Clock.Advance(lifetime + s.TokenOptions.ClockSkew + TimeSpan.FromSeconds(1));
                return Task.CompletedTask;
            }, movesClock: true));
        }
        cases.Add(AfterPair(HostileChannel.Bearer, "rotated-away", "revoked_token", (s, pair) => s.Manager.Tokens.RefreshAsync(pair.Refresh).AsTask()));
        cases.Add(AfterPair(HostileChannel.Refresh, "reused-after-grace-window", "refresh_token_reused", async (s, pair) =>
        {
            await s.Manager.Tokens.RefreshAsync(pair.Refresh);
            s.Clock.Advance(s.TokenOptions.ReuseGraceWindow + TimeSpan.FromSeconds(1));
        }, movesClock: true));
    }

    private static void AddRefreshCases(List<HostileCase> cases)
    {
        const string Invalid = "invalid_token";
        static string R(HostileSetup s) => s.Carol.Refresh;
        static string Payload(HostileSetup s) => s.Claims(s.Carol.RefreshId, s.Carol.SessionId, "refresh", exp: s.Now + 3600);
        cases.Add(Refresh("access-token", "wrong_token_type", s => s.Carol.Access));
        cases.Add(Refresh("truncated-1", Invalid, s => R(s)[..^1]));
        cases.Add(Refresh("flip-payload", Invalid, s => FlipBit(R(s), Position(R(s), 1, "middle"), 1)));
        cases.Add(Refresh("flip-signature", Invalid, s => FlipBit(R(s), Position(R(s), 2, "middle"), 1)));
        cases.Add(Refresh("signature-noncanonical", Invalid, s => WithSegment(R(s), 2, BumpLastChar(Segment(R(s), 2), 1))));
        cases.Add(Refresh("padded", Invalid, s => R(s) + "="));
        cases.Add(Refresh("std-base64-padded", Invalid, s => StandardBase64(R(s), padded: true)));
        cases.Add(Refresh("extra-segment", Invalid, s => R(s) + ".e30"));
        cases.Add(Refresh("whitespace-around", Invalid, s => " " + R(s) + " "));
        cases.Add(Refresh("utf8-inside", Invalid, s => Replace(R(s), 12, "é")));
        cases.Add(Refresh("nul-inside", Invalid, s => Insert(R(s), 12, "\0")));
        cases.Add(Refresh("newline-inside", Invalid, s => Insert(R(s), 12, "\n")));
        cases.Add(Refresh("alg-none", Invalid, s => s.Forge(s.Header("none"), Payload(s), "none")));
        cases.Add(Refresh("alg-hs512", Invalid, s => s.Forge(s.Header("HS512"), Payload(s), "HS512")));
        cases.Add(Refresh("kid-unknown", Invalid, s => s.Forge(s.Header(kid: "AAAAAAAA"), Payload(s))));
        cases.Add(Refresh("wrong-key", Invalid, s => s.Forge(s.Header(), Payload(s), key: RandomNumberGenerator.GetBytes(32))));
        cases.Add(Refresh("exp-missing", Invalid, s => s.ForgeToken(use: "refresh", exp: null)));
        cases.Add(Refresh("payload-of-dave", Invalid, s => WithSegment(R(s), 1, Segment(s.Dave.Refresh, 1))));
        cases.Add(Refresh("oversized-5kb", Invalid, s => R(s) + new string('A', 5000)));
        cases.Add(Refresh("cookie", Invalid, s => s.Alice.Value));
        cases.Add(Refresh("session-id", Invalid, s => s.Carol.SessionId));
        // An empty string is a missing field (400); a body beyond the endpoint's 16 KiB cap is refused before parsing (413).
        cases.Add(Refresh("empty", HostileExpectation.RefusedWith(400), _ => string.Empty));
        cases.Add(Refresh("body-over-16kb", HostileExpectation.RefusedWith(413), _ => new string('A', 17 * 1024)));
        // Forged with the server's own key: only what the store knows can refuse these.
        cases.Add(Refresh("jti-never-issued", "invalid_session", s => s.ForgeToken(use: "refresh", exp: s.Now + 3600)));
        cases.Add(Refresh("jti-of-access-as-refresh", "wrong_token_type", s => s.ForgeToken(jti: s.Carol.AccessId, sid: s.Carol.SessionId, use: "refresh", exp: s.Now + 3600)));
        cases.Add(Refresh("jti-of-carol-sid-of-dave", Invalid, s => s.ForgeToken(jti: s.Carol.RefreshId, sid: s.Dave.SessionId, use: "refresh", exp: s.Now + 3600)));
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
