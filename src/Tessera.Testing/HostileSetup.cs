using Microsoft.Extensions.Time.Testing;
using Tessera.Tokens;

namespace Tessera.Testing;

/// <summary>A cookie a real sign-in issued, and the id of its session.</summary>
internal sealed record HostileCookie(string Value, string SessionId);

/// <summary>A token pair <see cref="SessionManager.Tokens"/> issued, with the ids (<c>jti</c>) of both tokens.</summary>
internal sealed record HostileTokens(TokenPair Pair, string AccessId, string RefreshId)
{
    public string Access => Pair.AccessToken;

    public string Refresh => Pair.RefreshToken;

    public string SessionId => Pair.SessionId;
}

/// <summary>
/// The server and the valid credentials the hostile cases start from: two signed-in cookie sessions (alice, bob) and
/// two token sessions (carol, dave), all issued through the real endpoints and APIs, plus the means to forge JWTs
/// with the server's own key (a forgery with the right key must still fail on what the store knows).
/// </summary>
internal sealed class HostileSetup
{
    private HostileSetup(TesseraTestServer server, FakeTimeProvider clock, ISessionStore store, string key)
    {
        Server = server;
        Clock = clock;
        Store = store;
        Key = key;
        KeyBytes = Convert.FromBase64String(key);
        Kid = SigningKeyRing.FromBase64([key]).Current.Id;
    }

    public TesseraTestServer Server { get; }

    public FakeTimeProvider Clock { get; }

    public ISessionStore Store { get; }

    /// <summary>The server's signing key (base64), a secret that must never be logged.</summary>
    public string Key { get; }

    public byte[] KeyBytes { get; }

    /// <summary>The <c>kid</c> of the server's key.</summary>
    public string Kid { get; }

    public HostileCookie Alice { get; private set; } = null!;

    public HostileCookie Bob { get; private set; } = null!;

    public HostileTokens Carol { get; private set; } = null!;

    public HostileTokens Dave { get; private set; } = null!;

    public string CookieName => Server.CookieName;

    public SessionManager Manager => Server.Manager;

    public TesseraTokenOptions TokenOptions => Manager.Options.Tokens;

    /// <summary>Now, in JWT seconds.</summary>
    public long Now => Clock.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>Every valid credential and key of the setup: none may ever appear in a log line.</summary>
    public IEnumerable<string> Secrets => [Key, Alice.Value, Bob.Value, Carol.Access, Carol.Refresh, Dave.Access, Dave.Refresh];

    /// <summary>Session ids of the setup: not credentials, but Tessera promises never to log them raw either.</summary>
    public IEnumerable<string> SessionIds => [Alice.SessionId, Bob.SessionId, Carol.SessionId, Dave.SessionId];

    public static async Task<HostileSetup> CreateAsync(TesseraTestServer server, FakeTimeProvider clock, ISessionStore store, string key)
    {
        var setup = new HostileSetup(server, clock, store, key);
        setup.Alice = await setup.SignInAsync("alice");
        setup.Bob = await setup.SignInAsync("bob");
        setup.Carol = await setup.PairAsync("carol");
        setup.Dave = await setup.PairAsync("dave");
        return setup;
    }

    /// <summary>Signs a user in over HTTP and returns the cookie and session id.</summary>
    public async Task<HostileCookie> SignInAsync(string user)
    {
        using var client = Server.CreateClient();
        await client.PostAsync($"/signin/{user}");
        return new HostileCookie(client.Cookie!, await client.GetStringAsync("/id"));
    }

    /// <summary>Creates a token session and returns its pair.</summary>
    public async Task<HostileTokens> PairAsync(string user) => Tokens(await Manager.Tokens.CreateAsync(user));

    /// <summary>The ids of both tokens of a pair, read from their claims.</summary>
    public static HostileTokens Tokens(TokenPair pair) => new(
        pair,
        HostileCredentials.ReadClaims(pair.AccessToken).GetProperty("jti").GetString()!,
        HostileCredentials.ReadClaims(pair.RefreshToken).GetProperty("jti").GetString()!);

    /// <summary>A cookie of a new signed-in session whose text satisfies <paramref name="wanted"/> (for cases that need a given character).</summary>
    public Task<HostileCookie> CookieWhereAsync(Func<string, bool> wanted) =>
        FirstWhereAsync(attempt => SignInAsync($"pool{attempt}"), cookie => wanted(cookie.Value));

    /// <summary>A pair of a new token session whose access token satisfies <paramref name="wanted"/>.</summary>
    public Task<HostileTokens> PairWhereAsync(Func<string, bool> wanted) =>
        FirstWhereAsync(attempt => PairAsync($"pool{attempt}"), pair => wanted(pair.Access));

    private static async Task<T> FirstWhereAsync<T>(Func<int, Task<T>> create, Func<T, bool> wanted)
    {
        for (var attempt = 0; attempt < 64; attempt++)
        {
            var made = await create(attempt);
            if (wanted(made))
            {
                return made;
            }
        }
        throw new InvalidOperationException("None of 64 credentials had the wanted shape.");
    }

    /// <summary>A JWT header naming the server's key (or <paramref name="kid"/>; <see langword="null"/> leaves it out).</summary>
    public string Header(string alg = "HS256", string? kid = "", string? typ = "JWT")
    {
        var members = new List<string> { $"\"alg\":\"{alg}\"" };
        if (kid is not null)
        {
            members.Add($"\"kid\":\"{(kid.Length == 0 ? Kid : kid)}\"");
        }
        if (typ is not null)
        {
            members.Add($"\"typ\":\"{typ}\"");
        }
        return "{" + string.Join(',', members) + "}";
    }

    /// <summary>A JWT over the given JSON texts, signed with the server's key unless another is given.</summary>
    public string Forge(string headerJson, string payloadJson, string algorithm = "HS256", byte[]? key = null) =>
        HostileCredentials.Jwt(headerJson, payloadJson, key ?? KeyBytes, algorithm);

    /// <summary>
    /// An access token forged with the server's key and header: by default a fresh <c>jti</c> and <c>sid</c> the store
    /// has never seen, issued now, expiring in five minutes.
    /// </summary>
    public string ForgeToken(string? jti = "", string? sid = "", string? use = "access", long? iat = 0, long? exp = 0, string extra = "", string? headerJson = null) =>
        Forge(headerJson ?? Header(), Claims(jti, sid, use, iat, exp, extra));

    /// <summary>Token claims with the same defaults as <see cref="ForgeToken"/> (empty or zero means "a sensible value").</summary>
    public string Claims(string? jti = "", string? sid = "", string? use = "access", long? iat = 0, long? exp = 0, string extra = "") =>
        HostileCredentials.Claims(
            jti is "" ? Guid.NewGuid().ToString() : jti,
            sid is "" ? Guid.NewGuid().ToString() : sid,
            use,
            iat is 0 ? Now : iat,
            exp is 0 ? Now + 300 : exp,
            extra);
}
