using System.Security.Cryptography;
using System.Text;
using static Tessera.Testing.HostileCredentials;

namespace Tessera.Testing;

/// <summary>The hostile cases sent as a session cookie: shapes, forgeries, encodings, headers and a cookie's lifecycle.</summary>
internal static partial class HostileInputCases
{
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
        static string Issue(byte[] key) => new CookieCredential(new SigningKeyRing([key])).Issue(SessionRoute.Of(Guid.NewGuid().ToString("D"))).Value;
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
        // Signed with the server's own key and format, on the route of a live session, but never issued: only the store
        // can say no.
        cases.Add(Cookie("signed-never-stored", s => s.Manager.Credentials.Issue(SessionRoute.Of(s.Alice.SessionId)).Value));
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
}
