using System.Security.Cryptography;
using System.Text;
using static Tessera.Testing.HostileCredentials;

namespace Tessera.Testing;

/// <summary>The hostile cases sent as a Bearer access token or to the refresh endpoint: framing, shapes, JWT headers and payloads, and a token's lifecycle.</summary>
internal static partial class HostileInputCases
{
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
}
