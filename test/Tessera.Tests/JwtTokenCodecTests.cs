using Microsoft.Extensions.Time.Testing;
using System.Buffers.Text;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Tessera.Testing;
using Tessera.Tokens;

namespace Tessera.Tests;

/// <summary>
/// The JWT codec checked against an independent implementation (Microsoft.IdentityModel.JsonWebTokens) in both
/// directions, and against hand-made hostile tokens.
/// </summary>
public sealed partial class JwtTokenCodecTests
{
    // Whole seconds, near the real clock, because JsonWebTokenHandler validates lifetimes against the real clock.
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());

    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);

    // ---- helpers -------------------------------------------------------------------------------------------------

    private static JwtTokenCodec Codec(SigningKeyRing ring, Action<TesseraTokenOptions>? configure = null)
    {
        var options = new TesseraTokenOptions();
        configure?.Invoke(options);
        return new JwtTokenCodec(ring, options);
    }

    private JwtTokenCodec Codec(Action<TesseraTokenOptions>? configure = null) => Codec(new SigningKeyRing([_key]), configure);

    private static string KeyId(byte[] key) => new SigningKeyRing([key]).Current.Id;

    private static TokenRecord Record(TokenKind kind, DateTimeOffset? createdAt = null, TimeSpan? lifetime = null)
    {
        var created = createdAt ?? Now;
        return new TokenRecord
        {
            Id = Guid.NewGuid().ToString("D"),
            SessionId = Guid.NewGuid().ToString("D"),
            Kind = kind,
            PairedTokenId = Guid.NewGuid().ToString("D"),
            CreatedAt = created,
            ExpiresAt = created + (lifetime ?? TimeSpan.FromMinutes(5)),
        };
    }

    private static string Segment(string json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));

    private static string SegmentBytes(byte[] bytes) => Base64Url.EncodeToString(bytes);

    /// <summary>A compact JWS built by hand: HMAC-SHA256 of "header.payload" under the key.</summary>
    private static string SignByHand(byte[] key, string headerJson, string payloadJson) =>
        SignSegments(key, Segment(headerJson), Segment(payloadJson));

    private static string SignSegments(byte[] key, string header, string payload)
    {
        var input = header + "." + payload;
        return input + "." + Base64Url.EncodeToString(HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(input)));
    }

    private static string Json(object value) => JsonSerializer.Serialize(value);

    private string TesseraHeader() => Json(new { alg = "HS256", kid = KeyId(_key), typ = "JWT" });

    private static string TesseraPayload(TokenRecord token) => Json(new Dictionary<string, object>
    {
        ["jti"] = token.Id,
        ["sid"] = token.SessionId,
        ["token_use"] = token.Kind == TokenKind.Access ? "access" : "refresh",
        ["iat"] = token.CreatedAt.ToUnixTimeSeconds(),
        ["exp"] = token.ExpiresAt.ToUnixTimeSeconds(),
    });

    private static Dictionary<string, object> TesseraClaims(TokenRecord token) => new()
    {
        ["jti"] = token.Id,
        ["sid"] = token.SessionId,
        ["token_use"] = token.Kind == TokenKind.Access ? "access" : "refresh",
    };

    private static SymmetricSecurityKey HandlerKey(byte[] key, string? keyId) => new(key) { KeyId = keyId };

    /// <summary>Mints a token with JsonWebTokenHandler, the independent implementation.</summary>
    private static string HandlerMint(
        SecurityKey? key,
        IDictionary<string, object> claims,
        string algorithm = SecurityAlgorithms.HmacSha256,
        DateTimeOffset? expires = null,
        DateTimeOffset? issuedAt = null,
        DateTimeOffset? notBefore = null,
        IDictionary<string, object>? extraHeader = null,
        bool defaultTimes = true)
    {
        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = defaultTimes };
        var descriptor = new SecurityTokenDescriptor
        {
            Claims = claims,
            Expires = expires?.UtcDateTime ?? (defaultTimes ? (Now + TimeSpan.FromMinutes(5)).UtcDateTime : null),
            IssuedAt = issuedAt?.UtcDateTime ?? (defaultTimes ? Now.UtcDateTime : null),
            NotBefore = notBefore?.UtcDateTime ?? (defaultTimes ? Now.UtcDateTime : null),
            SigningCredentials = key is null ? null : new SigningCredentials(key, algorithm),
            AdditionalHeaderClaims = extraHeader,
        };
        return handler.CreateToken(descriptor);
    }

    private static Task<TokenValidationResult> HandlerValidateAsync(string token, byte[] key, string? keyId) =>
        new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            IssuerSigningKey = HandlerKey(key, keyId),
            ValidateIssuer = false,
            ValidateAudience = false,
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            ValidateLifetime = true,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ValidateIssuerSigningKey = true,
        });

    private static string DecodeSegment(string token, int index) =>
        Encoding.UTF8.GetString(Base64Url.DecodeFromChars(token.Split('.')[index]));

    private static (SessionManager Manager, InMemorySessionStore Store, FakeTimeProvider Clock) Manager(
        IEnumerable<byte[]> keys, Action<TesseraOptions>? configure = null, InMemorySessionStore? store = null, FakeTimeProvider? clock = null, TestLogger<SessionManager>? logger = null)
    {
        clock ??= new FakeTimeProvider(Now);
        store ??= new InMemorySessionStore(clock);
        var options = new TesseraOptions();
        foreach (var key in keys)
        {
            options.Keys.Add(Convert.ToBase64String(key));
        }
        configure?.Invoke(options);
        return (new SessionManager(store, Microsoft.Extensions.Options.Options.Create(options), clock, logger), store, clock);
    }

    // ---- Tessera -> JsonWebTokenHandler ---------------------------------------------------------------------------

    [Theory]
    [InlineData(TokenKind.Access, "access")]
    [InlineData(TokenKind.Refresh, "refresh")]
    public async Task ATokenMintedByTesseraValidatesWithJsonWebTokenHandlerAndItsClaimsReadBack(TokenKind kind, string use)
    {
        var record = Record(kind);
        var token = Codec().Mint(record);

        var result = await HandlerValidateAsync(token, _key, KeyId(_key));

        Assert.True(result.IsValid, result.Exception?.Message);
        var jwt = Assert.IsType<JsonWebToken>(result.SecurityToken);
        Assert.Equal("HS256", jwt.Alg);
        Assert.Equal(KeyId(_key), jwt.Kid);
        Assert.Equal("JWT", jwt.Typ);
        Assert.Equal(record.Id, jwt.Id);
        Assert.Equal(record.SessionId, jwt.GetPayloadValue<string>("sid"));
        Assert.Equal(use, jwt.GetPayloadValue<string>("token_use"));
        Assert.Equal(record.CreatedAt.ToUnixTimeSeconds(), jwt.GetPayloadValue<long>("iat"));
        Assert.Equal(record.ExpiresAt.ToUnixTimeSeconds(), jwt.GetPayloadValue<long>("exp"));
        Assert.Equal(record.ExpiresAt.UtcDateTime, jwt.ValidTo);
    }

    [Fact]
    public async Task ATokenMintedByTesseraFailsJsonWebTokenHandlerValidationUnderAnotherKey()
    {
        var token = Codec().Mint(Record(TokenKind.Access));

        var result = await HandlerValidateAsync(token, RandomNumberGenerator.GetBytes(32), KeyId(_key));

        Assert.False(result.IsValid);
    }

    [Fact]
    public async Task AnExpiredTesseraTokenFailsJsonWebTokenHandlerLifetimeValidation()
    {
        var token = Codec().Mint(Record(TokenKind.Access, Now - TimeSpan.FromHours(2), TimeSpan.FromMinutes(5)));

        var result = await HandlerValidateAsync(token, _key, KeyId(_key));

        Assert.False(result.IsValid);
        Assert.IsType<SecurityTokenExpiredException>(result.Exception);
    }

    [Fact]
    public async Task ACompasProfileTokenValidatesWithJsonWebTokenHandlerWithoutAKid()
    {
        var record = Record(TokenKind.Refresh);
        var token = Codec(o => o.Profile = TokenProfile.Compas).Mint(record);

        var result = await HandlerValidateAsync(token, _key, keyId: null);

        Assert.True(result.IsValid, result.Exception?.Message);
        var jwt = Assert.IsType<JsonWebToken>(result.SecurityToken);
        Assert.Equal(record.Id, jwt.GetPayloadValue<string>("compasSessionRefreshToken"));
    }

    // ---- JsonWebTokenHandler -> Tessera ---------------------------------------------------------------------------

    [Theory]
    [InlineData(TokenKind.Access)]
    [InlineData(TokenKind.Refresh)]
    public void ATokenMintedByJsonWebTokenHandlerWithTheRightKeyAndTesserasClaimsValidatesInTessera(TokenKind kind)
    {
        var record = Record(kind);
        var token = HandlerMint(HandlerKey(_key, KeyId(_key)), TesseraClaims(record));

        var validation = Codec().Validate(token, kind, Now);

        Assert.Equal(new TokenValidation(TokenFailure.None, record.Id, record.SessionId), validation);
    }

    [Fact]
    public async Task ATokenMintedByJsonWebTokenHandlerForARealSessionIsAcceptedByTheTokenService()
    {
        var (manager, _, _) = Manager([_key]);
        var pair = await manager.Tokens.CreateAsync("alice");
        var original = new JsonWebToken(pair.AccessToken);
        var claims = new Dictionary<string, object>
        {
            ["jti"] = original.Id,
            ["sid"] = original.GetPayloadValue<string>("sid"),
            ["token_use"] = "access",
        };
        var foreign = HandlerMint(HandlerKey(_key, KeyId(_key)), claims, expires: original.ValidTo);

        var got = await manager.Tokens.GetAsync(foreign);

        Assert.True(got.Succeeded, got.Reason);
        Assert.Equal("alice", got.Value!.Subject);
        Assert.Equal(pair.SessionId, got.Value.Id);
    }

    // ---- rejections -----------------------------------------------------------------------------------------------

    [Fact]
    public void ATokenSignedWithAWrongKeyIsInvalid()
    {
        var token = HandlerMint(HandlerKey(RandomNumberGenerator.GetBytes(32), KeyId(_key)), TesseraClaims(Record(TokenKind.Access)));

        Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(token, TokenKind.Access, Now).Failure);
    }

    [Fact]
    public void AnUnsignedAlgNoneTokenIsInvalid()
    {
        var payload = JsonSerializer.Serialize(TesseraClaims(Record(TokenKind.Access)));
        var token = new JsonWebTokenHandler().CreateToken(payload); // alg "none", empty signature
        Assert.Equal("none", new JsonWebToken(token).Alg);
        Assert.EndsWith(".", token, StringComparison.Ordinal);

        Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(token, TokenKind.Access, Now).Failure);
    }

    [Fact]
    public void AnAlgNoneTokenWithTheKidAndAValidHs256SignatureIsStillInvalid()
    {
        // The signature would match if the header's alg were ignored: the header check must come first.
        var header = Json(new { alg = "none", kid = KeyId(_key), typ = "JWT" });
        var token = SignByHand(_key, header, TesseraPayload(Record(TokenKind.Access)));

        Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(token, TokenKind.Access, Now).Failure);
    }

    [Fact]
    public void AnHs512TokenIsInvalidEvenUnderAKeyOfTheRing()
    {
        var key = RandomNumberGenerator.GetBytes(64); // HS512 needs 512 bits in IdentityModel
        var token = HandlerMint(HandlerKey(key, KeyId(key)), TesseraClaims(Record(TokenKind.Access)), SecurityAlgorithms.HmacSha512);
        Assert.Equal("HS512", new JsonWebToken(token).Alg);

        Assert.Equal(TokenFailure.InvalidToken, Codec(new SigningKeyRing([key])).Validate(token, TokenKind.Access, Now).Failure);
    }

    [Fact]
    public void AnRs256TokenIsInvalid()
    {
        using var rsa = RSA.Create(2048);
        var token = HandlerMint(new RsaSecurityKey(rsa) { KeyId = KeyId(_key) }, TesseraClaims(Record(TokenKind.Access)), SecurityAlgorithms.RsaSha256);
        Assert.Equal("RS256", new JsonWebToken(token).Alg);

        Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(token, TokenKind.Access, Now).Failure);
    }

    [Theory]
    [InlineData("""{"kid":"KID","typ":"JWT"}""")]
    [InlineData("""{"alg":null,"kid":"KID"}""")]
    [InlineData("""{"alg":"hs256","kid":"KID"}""")]
    [InlineData("""{"alg":"HS256 ","kid":"KID"}""")]
    [InlineData("""{"alg":["HS256"],"kid":"KID"}""")]
    [InlineData("""{"alg":"HS256","kid":"KID","typ":"JOSE"}""")]
    [InlineData("""{"alg":"HS256","kid":7}""")]
    [InlineData("""{"alg":"HS256","alg":"HS256","kid":"KID"}""")]
    [InlineData("""{"alg":"HS256","kid":"KID","kid":"KID"}""")]
    [InlineData("""["HS256"]""")]
    [InlineData("""{"alg":"HS256","kid":"KID"}{}""")]
    [InlineData("")]
    public void AHeaderThatIsNotExactlyHs256WithAKidIsInvalidEvenWithAGoodSignature(string header)
    {
        var token = SignByHand(_key, header.Replace("KID", KeyId(_key), StringComparison.Ordinal), TesseraPayload(Record(TokenKind.Access)));

        Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(token, TokenKind.Access, Now).Failure);
    }

    [Fact]
    public void AHandMadeTokenWithTheExactTesseraHeaderIsAccepted()
    {
        // The control for the header tests above: the same construction with a good header passes.
        var record = Record(TokenKind.Access);
        var token = SignByHand(_key, TesseraHeader(), TesseraPayload(record));

        Assert.Equal(TokenFailure.None, Codec().Validate(token, TokenKind.Access, Now).Failure);
    }

    [Theory]
    [InlineData("jku", "https://attacker.example/keys")]
    [InlineData("jwk", "{}")]
    [InlineData("x5u", "https://attacker.example/cert")]
    [InlineData("cty", "JWT")]
    public void ExtraHeaderMembersMakeATokenInvalid(string name, string value)
    {
        var token = HandlerMint(HandlerKey(_key, KeyId(_key)), TesseraClaims(Record(TokenKind.Access)), extraHeader: new Dictionary<string, object> { [name] = value });

        Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(token, TokenKind.Access, Now).Failure);
    }

    [Fact]
    public void ACritHeaderMakesATokenInvalid()
    {
        var token = HandlerMint(HandlerKey(_key, KeyId(_key)), TesseraClaims(Record(TokenKind.Access)), extraHeader: new Dictionary<string, object> { ["crit"] = new[] { "exp" } });
        Assert.Contains("crit", DecodeSegment(token, 0), StringComparison.Ordinal);

        Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(token, TokenKind.Access, Now).Failure);
    }

    [Fact]
    public void ATokenWithoutExpIsInvalid()
    {
        var token = HandlerMint(HandlerKey(_key, KeyId(_key)), TesseraClaims(Record(TokenKind.Access)), issuedAt: Now, defaultTimes: false);
        Assert.DoesNotContain("\"exp\"", DecodeSegment(token, 1), StringComparison.Ordinal);

        Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(token, TokenKind.Access, Now).Failure);
    }

    [Fact]
    public void ATesseraProfileTokenWithoutIatIsInvalid()
    {
        var token = HandlerMint(HandlerKey(_key, KeyId(_key)), TesseraClaims(Record(TokenKind.Access)), expires: Now.AddMinutes(5), defaultTimes: false);
        Assert.DoesNotContain("\"iat\"", DecodeSegment(token, 1), StringComparison.Ordinal);

        Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(token, TokenKind.Access, Now).Failure);
    }

    [Theory]
    [InlineData("\"EXP\"")]
    [InlineData("\"soon\"")]
    [InlineData("null")]
    [InlineData("true")]
    [InlineData("[EXP]")]
    [InlineData("{\"v\":EXP}")]
    [InlineData("EXP.5")]
    [InlineData("1e400")]
    [InlineData("-1")]
    [InlineData("253402300800")]
    [InlineData("99999999999999999999999")]
    public void ANonNumericOrOutOfRangeExpIsInvalid(string exp)
    {
        var record = Record(TokenKind.Access);
        var payload = TesseraPayload(record).Replace(
            $"\"exp\":{record.ExpiresAt.ToUnixTimeSeconds()}",
            "\"exp\":" + exp.Replace("EXP", record.ExpiresAt.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal),
            StringComparison.Ordinal);
        Assert.NotEqual(TesseraPayload(record), payload);
        var token = SignByHand(_key, TesseraHeader(), payload);

        Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(token, TokenKind.Access, Now).Failure);
    }

    [Fact]
    public void AFutureNbfBeyondTheSkewIsInvalidAndWithinItIsAccepted()
    {
        var claims = TesseraClaims(Record(TokenKind.Access));
        var far = HandlerMint(HandlerKey(_key, KeyId(_key)), claims, notBefore: Now.AddSeconds(31), expires: Now.AddMinutes(5));
        var near = HandlerMint(HandlerKey(_key, KeyId(_key)), claims, notBefore: Now.AddSeconds(30), expires: Now.AddMinutes(5));

        Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(far, TokenKind.Access, Now).Failure);
        Assert.Equal(TokenFailure.None, Codec().Validate(near, TokenKind.Access, Now).Failure);
    }

    [Fact]
    public void AFutureIatBeyondTheSkewIsInvalidAndWithinItIsAccepted()
    {
        var claims = TesseraClaims(Record(TokenKind.Access));
        var far = HandlerMint(HandlerKey(_key, KeyId(_key)), claims, issuedAt: Now.AddMinutes(2), notBefore: Now, expires: Now.AddMinutes(5));
        var near = HandlerMint(HandlerKey(_key, KeyId(_key)), claims, issuedAt: Now.AddSeconds(30), notBefore: Now, expires: Now.AddMinutes(5));

        Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(far, TokenKind.Access, Now).Failure);
        Assert.Equal(TokenFailure.None, Codec().Validate(near, TokenKind.Access, Now).Failure);
    }

    [Fact]
    public void ATokenWithAnUnknownKidIsInvalidEvenWhenSignedWithARingKey()
    {
        var token = HandlerMint(HandlerKey(_key, "not-a-kid"), TesseraClaims(Record(TokenKind.Access)));

        Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(token, TokenKind.Access, Now).Failure);
    }

    [Fact]
    public void ATesseraProfileTokenWithoutAKidIsInvalidEvenWhenSignedWithTheRingKey()
    {
        var token = HandlerMint(HandlerKey(_key, keyId: null), TesseraClaims(Record(TokenKind.Access)));
        Assert.DoesNotContain("kid", DecodeSegment(token, 0), StringComparison.Ordinal);

        Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(token, TokenKind.Access, Now).Failure);
    }

    [Theory]
    [InlineData("jti")]
    [InlineData("sid")]
    [InlineData("token_use")]
    [InlineData("exp")]
    [InlineData("iat")]
    public void ADuplicatedClaimMakesATokenInvalid(string claim)
    {
        var record = Record(TokenKind.Access);
        var payload = TesseraPayload(record);
        using var document = JsonDocument.Parse(payload);
        var duplicate = $",\"{claim}\":{document.RootElement.GetProperty(claim).GetRawText()}}}";
        var token = SignByHand(_key, TesseraHeader(), payload[..^1] + duplicate);

        Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(token, TokenKind.Access, Now).Failure);
    }

    [Fact]
    public void UnknownClaimsOfAnyShapeAreIgnoredOnceEach()
    {
        var record = Record(TokenKind.Access);
        var payload = TesseraPayload(record)[..^1] + ""","roles":["a","b"],"ctx":{"tenant":{"id":7}},"n":null,"\u00e9t\u00e9":true}""";
        var token = SignByHand(_key, TesseraHeader(), payload);

        var validation = Codec().Validate(token, TokenKind.Access, Now);

        Assert.Equal(TokenFailure.None, validation.Failure);
        Assert.Equal(record.Id, validation.TokenId);
        Assert.Equal(record.SessionId, validation.SessionId);
    }

    [Fact]
    public void ADuplicatedTokenUseThatWouldChangeTheTypeIsInvalid()
    {
        var record = Record(TokenKind.Refresh);
        var token = SignByHand(_key, TesseraHeader(), TesseraPayload(record)[..^1] + ",\"token_use\":\"access\"}");

        Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(token, TokenKind.Access, Now).Failure);
    }

    [Theory]
    [InlineData("""{"jti":"not-a-uuid","sid":"SID","token_use":"access","iat":IAT,"exp":EXP}""")]
    [InlineData("""{"jti":"JTI","sid":"not-a-uuid","token_use":"access","iat":IAT,"exp":EXP}""")]
    [InlineData("""{"jti":"JTI","sid":"SID","token_use":"id","iat":IAT,"exp":EXP}""")]
    [InlineData("""{"jti":"JTI","token_use":"access","iat":IAT,"exp":EXP}""")]
    [InlineData("""{"sid":"SID","token_use":"access","iat":IAT,"exp":EXP}""")]
    [InlineData("""{"jti":"JTI","sid":"SID","iat":IAT,"exp":EXP}""")]
    [InlineData("""{"jti":7,"sid":"SID","token_use":"access","iat":IAT,"exp":EXP}""")]
    [InlineData("""["JTI"]""")]
    [InlineData("""{"jti":"JTI","sid":"SID","token_use":"access","iat":IAT,"exp":EXP,"x":{"a":{"b":{"c":{"d":1}}}}}""")]
    [InlineData("""{"jti":"JTI","sid":"SID","token_use":"access","iat":IAT,"exp":EXP""")]
    [InlineData("""{"jti":"JTI","sid":"SID","token_use":"access","iat":IAT,"exp":EXP,"j\u0074i":"JTI"}""")]
    [InlineData("""{"jti":"JTI","sid":"SID","token_use":"access","iat":IAT,"exp":EXP} {}""")]
    [InlineData("""{"jti":"JTI","sid":"SID","token_use":"access","iat":IAT,"exp":"EXP"}""")]
    [InlineData("""{"jti":"JTI","sid":"SID","token_use":"access","iat":IAT,"exp":EXP.5}""")]
    public void AWellSignedPayloadWithMissingOrMalformedClaimsIsInvalid(string template)
    {
        var record = Record(TokenKind.Access);
        var payload = template
            .Replace("JTI", record.Id, StringComparison.Ordinal)
            .Replace("SID", record.SessionId, StringComparison.Ordinal)
            .Replace("IAT", record.CreatedAt.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("EXP", record.ExpiresAt.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        var token = SignByHand(_key, TesseraHeader(), payload);

        Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(token, TokenKind.Access, Now).Failure);
    }

    [Fact]
    public void InvalidUtf8OrALoneSurrogateInAWellSignedHeaderOrPayloadIsInvalidAndDoesNotThrow()
    {
        var record = Record(TokenKind.Access);
        byte[] badKid = [.. Encoding.ASCII.GetBytes("{\"alg\":\"HS256\",\"kid\":\""), 0xFF, 0xFE, .. Encoding.ASCII.GetBytes("\"}")];
        byte[] badName = [.. Encoding.ASCII.GetBytes("{\"alg\":\"HS256\",\""), 0xC3, .. Encoding.ASCII.GetBytes("\":\"x\"}")];
        byte[] badJti = [.. Encoding.ASCII.GetBytes("{\"jti\":\""), 0xFF, .. Encoding.UTF8.GetBytes(TesseraPayload(record)[8..])];

        foreach (var token in new[]
        {
            SignSegments(_key, SegmentBytes(badKid), Segment(TesseraPayload(record))),
            SignSegments(_key, SegmentBytes(badName), Segment(TesseraPayload(record))),
            SignSegments(_key, Segment(TesseraHeader()), SegmentBytes(badJti)),
            SignSegments(_key, Segment(TesseraHeader()), SegmentBytes([0xFF, 0xFE, 0xFD])),
            SignByHand(_key, "{\"alg\":\"HS256\",\"kid\":\"\\ud800\"}", TesseraPayload(record)),
            SignByHand(_key, "{\"alg\":\"HS256\",\"\\udc00\":\"x\"}", TesseraPayload(record)),
            SignByHand(_key, TesseraHeader(), TesseraPayload(record).Replace(record.Id, "\\ud800", StringComparison.Ordinal)),
        })
        {
            Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(token, TokenKind.Access, Now).Failure);
        }
    }

    [Fact]
    public void ATokenWithTooManyOrTooFewSegmentsIsInvalid()
    {
        var token = Codec().Mint(Record(TokenKind.Access));
        var parts = token.Split('.');

        foreach (var shape in new[]
        {
            token + "." + parts[2],
            token + ".",
            parts[0] + "." + parts[1] + ".." + parts[2],
            string.Join('.', parts[0], "AAAA", parts[1], "AAAA", parts[2]), // a JWE's five segments
            parts[0] + "." + parts[1],
            parts[0] + "." + parts[1] + ".",
            "." + parts[1] + "." + parts[2],
            parts[0] + ".." + parts[2],
            token.Replace('.', '_'),
            "..",
        })
        {
            Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(shape, TokenKind.Access, Now).Failure);
        }
    }

    [Fact]
    public void ATokenWithBadOrNonCanonicalBase64IsInvalid()
    {
        var record = Record(TokenKind.Access);
        var token = Codec().Mint(record);
        var parts = token.Split('.');
        var header = Segment(TesseraHeader());
        var payload = Segment(TesseraPayload(record));

        foreach (var bad in new[]
        {
            SignSegments(_key, header + "=", payload),                                   // padding
            SignSegments(_key, header, payload + "=="),
            SignSegments(_key, Convert.ToBase64String(Encoding.UTF8.GetBytes(TesseraHeader())), payload),
            parts[0] + "." + parts[1] + "." + parts[2] + "=",
            parts[0] + "." + parts[1] + ".+" + parts[2][1..],                          // standard alphabet
            parts[0] + "." + parts[1] + "./" + parts[2][1..],
            parts[0] + "." + parts[1] + "." + parts[2][..^1],                           // 42 characters
            parts[0] + "." + parts[1] + "." + parts[2] + "A",                           // 44 characters
            parts[0] + "." + parts[1] + "." + parts[2][..^1] + "*",
            parts[0] + "." + parts[1] + " ." + parts[2],
            " " + token,
            token + "\n",
            parts[0] + "." + parts[1] + "é." + parts[2],
        })
        {
            Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(bad, TokenKind.Access, Now).Failure);
        }
        Assert.Equal(TokenFailure.None, Codec().Validate(token, TokenKind.Access, Now).Failure);
    }

    [Fact]
    public void NonCanonicalTrailingBitsInTheSignatureAreInvalid()
    {
        // 32 bytes take 43 characters; the last carries 4 unused bits. Setting them keeps the decoded bytes the same
        // under a lenient decoder, so a strict one must refuse it.
        var token = Codec().Mint(Record(TokenKind.Access));
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        var last = alphabet.IndexOf(token[^1], StringComparison.Ordinal);

        for (var low = 1; low < 4; low++)
        {
            var variant = token[..^1] + alphabet[(last & ~3) | low];
            Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(variant, TokenKind.Access, Now).Failure);
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("Bearer")]
    [InlineData("not a token")]
    public void EmptyOrGarbageInputIsInvalid(string? token)
    {
        Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(token, TokenKind.Access, Now).Failure);
    }

    [Fact]
    public void AWellSignedTokenOneCharacterLongerThanMaxTokenLengthIsInvalidAndAcceptedAtTheCap()
    {
        var token = Codec().Mint(Record(TokenKind.Access));
        Assert.InRange(token.Length, 257, 4096);

        Assert.Equal(TokenFailure.InvalidToken, Codec(o => o.MaxTokenLength = token.Length - 1).Validate(token, TokenKind.Access, Now).Failure);
        Assert.Equal(TokenFailure.None, Codec(o => o.MaxTokenLength = token.Length).Validate(token, TokenKind.Access, Now).Failure);
    }

    [Fact]
    public void AWellSignedTokenOverTheDefaultCapIsInvalid()
    {
        var record = Record(TokenKind.Access);
        var payload = TesseraPayload(record)[..^1] + ",\"pad\":\"" + new string('x', 4096) + "\"}";
        var token = SignByHand(_key, TesseraHeader(), payload);

        Assert.Equal(TokenFailure.InvalidToken, Codec().Validate(token, TokenKind.Access, Now).Failure);
        Assert.Equal(TokenFailure.None, Codec(o => o.MaxTokenLength = 65536).Validate(token, TokenKind.Access, Now).Failure);
    }

    [Fact]
    public void AHugeTokenIsRejectedFastWithoutBeingDecoded()
    {
        var codec = Codec();
        var segment = new string('A', 8 * 1024 * 1024);
        var huge = segment + "." + segment + "." + segment;
        codec.Validate(huge, TokenKind.Access, Now); // JIT and warm up outside the measurement

        var before = GC.GetAllocatedBytesForCurrentThread();
        var stopwatch = Stopwatch.StartNew();
        var validation = codec.Validate(huge, TokenKind.Access, Now);
        stopwatch.Stop();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(TokenFailure.InvalidToken, validation.Failure);
        // Decoding 24 MB of base64 would allocate megabytes; checking the length allocates nothing.
        Assert.True(allocated < 1024, $"validating an oversized token allocated {allocated} bytes");
        Assert.True(stopwatch.Elapsed < TimeSpan.FromMilliseconds(100), $"took {stopwatch.Elapsed}");
    }

    [Fact]
    public void ARefreshTokenWhereAnAccessTokenIsExpectedIsTheWrongTypeAndTheReverseToo()
    {
        var codec = Codec();

        Assert.Equal(TokenFailure.WrongTokenType, codec.Validate(codec.Mint(Record(TokenKind.Refresh)), TokenKind.Access, Now).Failure);
        Assert.Equal(TokenFailure.WrongTokenType, codec.Validate(codec.Mint(Record(TokenKind.Access)), TokenKind.Refresh, Now).Failure);
    }

    [Fact]
    public void ARefreshTokenMintedByJsonWebTokenHandlerWhereAnAccessTokenIsExpectedIsTheWrongType()
    {
        var token = HandlerMint(HandlerKey(_key, KeyId(_key)), TesseraClaims(Record(TokenKind.Refresh)));

        Assert.Equal(TokenFailure.WrongTokenType, Codec().Validate(token, TokenKind.Access, Now).Failure);
    }

    [Fact]
    public async Task TheTokenServiceRejectsARefreshTokenForGetAndAnAccessTokenForRefreshAsTheWrongType()
    {
        var (manager, _, _) = Manager([_key]);
        var pair = await manager.Tokens.CreateAsync("alice");

        Assert.Equal(TokenFailure.WrongTokenType, (await manager.Tokens.GetAsync(pair.RefreshToken)).Failure);
        Assert.Equal("wrong_token_type", (await manager.Tokens.GetAsync(pair.RefreshToken)).Reason);
        Assert.Equal(TokenFailure.WrongTokenType, (await manager.Tokens.RefreshAsync(pair.AccessToken)).Failure);
        Assert.True((await manager.Tokens.GetAsync(pair.AccessToken)).Succeeded);
    }

    // ---- keys -----------------------------------------------------------------------------------------------------

    [Fact]
    public void AKeyRotatedToSecondPositionStillValidatesItsTokensAndARemovedKeyRejectsThem()
    {
        var newKey = RandomNumberGenerator.GetBytes(32);
        var token = Codec().Mint(Record(TokenKind.Access));

        Assert.Equal(TokenFailure.None, Codec(new SigningKeyRing([newKey, _key])).Validate(token, TokenKind.Access, Now).Failure);
        Assert.Equal(TokenFailure.InvalidToken, Codec(new SigningKeyRing([newKey])).Validate(token, TokenKind.Access, Now).Failure);
        var reminted = Codec(new SigningKeyRing([newKey, _key])).Mint(Record(TokenKind.Access));
        Assert.Equal(KeyId(newKey), new JsonWebToken(reminted).Kid);
    }

    [Fact]
    public async Task AfterAKeyRotationTheTokenServiceStillAcceptsOldTokensUntilTheOldKeyIsRemoved()
    {
        var (before, store, clock) = Manager([_key]);
        var pair = await before.Tokens.CreateAsync("alice");
        var newKey = RandomNumberGenerator.GetBytes(32);
        var (rotated, _, _) = Manager([newKey, _key], store: store, clock: clock);
        var (removed, _, _) = Manager([newKey], store: store, clock: clock);

        Assert.True((await rotated.Tokens.GetAsync(pair.AccessToken)).Succeeded);
        var refreshed = await rotated.Tokens.RefreshAsync(pair.RefreshToken);
        Assert.True(refreshed.Succeeded, refreshed.Reason);
        Assert.Equal(KeyId(newKey), new JsonWebToken(refreshed.Value!.AccessToken).Kid);
        Assert.True((await removed.Tokens.GetAsync(refreshed.Value.AccessToken)).Succeeded);
        Assert.Equal(TokenFailure.InvalidToken, (await removed.Tokens.GetAsync(pair.AccessToken)).Failure);
    }

    // ---- time -----------------------------------------------------------------------------------------------------

    [Fact]
    public void ATokenIsAcceptedWithinTheClockSkewAfterExpAndExpiredBeyondIt()
    {
        var record = Record(TokenKind.Access);
        var codec = Codec(); // 30 seconds of skew by default
        var token = codec.Mint(record);

        Assert.Equal(TokenFailure.None, codec.Validate(token, TokenKind.Access, record.ExpiresAt).Failure);
        Assert.Equal(TokenFailure.None, codec.Validate(token, TokenKind.Access, record.ExpiresAt.AddSeconds(29)).Failure);
        Assert.Equal(TokenFailure.ExpiredToken, codec.Validate(token, TokenKind.Access, record.ExpiresAt.AddSeconds(30)).Failure);
        Assert.Equal(TokenFailure.ExpiredToken, codec.Validate(token, TokenKind.Access, record.ExpiresAt.AddHours(1)).Failure);
    }

    [Fact]
    public void WithoutClockSkewATokenExpiresAtItsExp()
    {
        var record = Record(TokenKind.Access);
        var codec = Codec(o => o.ClockSkew = TimeSpan.Zero);
        var token = codec.Mint(record);

        Assert.Equal(TokenFailure.None, codec.Validate(token, TokenKind.Access, record.ExpiresAt.AddSeconds(-1)).Failure);
        Assert.Equal(TokenFailure.ExpiredToken, codec.Validate(token, TokenKind.Access, record.ExpiresAt).Failure);
    }

    [Fact]
    public async Task TheTokenServiceReportsAnExpiredAccessTokenAsExpired()
    {
        var (manager, _, clock) = Manager([_key]);
        var pair = await manager.Tokens.CreateAsync("alice");

        clock.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(29));
        Assert.True((await manager.Tokens.GetAsync(pair.AccessToken)).Succeeded);
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("expired_token", (await manager.Tokens.GetAsync(pair.AccessToken)).Reason);
    }

    // ---- determinism ----------------------------------------------------------------------------------------------

    [Fact]
    public void MintingTheSameTokenRecordTwiceGivesTheSameString()
    {
        var record = Record(TokenKind.Refresh);

        Assert.Equal(Codec().Mint(record), Codec().Mint(record with { }));
        Assert.Equal(Codec(o => o.Profile = TokenProfile.Compas).Mint(record), Codec(o => o.Profile = TokenProfile.Compas).Mint(record));
        Assert.NotEqual(Codec().Mint(record), Codec().Mint(record with { Id = Guid.NewGuid().ToString("D") }));
    }

    // ---- Compas profile -------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(TokenKind.Access, "compasSessionAccessToken")]
    [InlineData(TokenKind.Refresh, "compasSessionRefreshToken")]
    public void TheCompasProfileMintsExactlyCompasHeaderAndPayload(TokenKind kind, string claim)
    {
        var record = Record(kind);
        var token = Codec(o => o.Profile = TokenProfile.Compas).Mint(record);

        Assert.Equal("""{"alg":"HS256","typ":"JWT"}""", DecodeSegment(token, 0));
        Assert.Equal($"{{\"exp\":{record.ExpiresAt.ToUnixTimeSeconds()},\"{claim}\":\"{record.Id}\"}}", DecodeSegment(token, 1));
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void TheCompasProfileValidatesATokenShapedLikeCompassSignedOverTheUtf8OfARawKey(bool withIat, bool claimFirst)
    {
        // Compas signs with a secret string; its HMAC key is the string's UTF-8. Tessera takes it as base64 of those bytes.
        const string compasSecret = "compas-app-secret-that-is-longer-than-32-bytes";
        var raw = Encoding.UTF8.GetBytes(compasSecret);
        var ring = SigningKeyRing.FromBase64([SigningKeyRing.GenerateBase64Key(), Convert.ToBase64String(raw)]);
        var codec = Codec(ring, o => o.Profile = TokenProfile.Compas);
        var id = Guid.NewGuid().ToString("D");
        var exp = Now.AddMinutes(5).ToUnixTimeSeconds();
        var iat = withIat ? $",\"iat\":{Now.ToUnixTimeSeconds()}" : "";
        var payload = claimFirst
            ? $"{{\"compasSessionAccessToken\":\"{id}\",\"exp\":{exp}{iat}}}"
            : $"{{\"exp\":{exp},\"compasSessionAccessToken\":\"{id}\"{iat}}}";
        var token = SignByHand(raw, """{"alg":"HS256","typ":"JWT"}""", payload);

        Assert.Equal(new TokenValidation(TokenFailure.None, id, null), codec.Validate(token, TokenKind.Access, Now));
        Assert.Equal(TokenFailure.WrongTokenType, codec.Validate(token, TokenKind.Refresh, Now).Failure);
        Assert.Equal(TokenFailure.InvalidToken, Codec(ring).Validate(token, TokenKind.Access, Now).Failure); // Tessera profile needs a kid
    }

    [Fact]
    public void TheCompasProfileRejectsAmbiguousOrForeignPayloads()
    {
        var codec = Codec(o => o.Profile = TokenProfile.Compas);
        var id = Guid.NewGuid().ToString("D");
        var exp = Now.AddMinutes(5).ToUnixTimeSeconds();
        const string header = """{"alg":"HS256","typ":"JWT"}""";

        foreach (var payload in new[]
        {
            $"{{\"exp\":{exp},\"compasSessionAccessToken\":\"{id}\",\"compasSessionRefreshToken\":\"{id}\"}}",
            $"{{\"exp\":{exp}}}",
            $"{{\"compasSessionAccessToken\":\"{id}\"}}",
            $"{{\"exp\":{exp},\"compasSessionAccessToken\":\"not-a-uuid\"}}",
            $"{{\"exp\":{exp},\"compasSessionAccessToken\":\"{id}\",\"exp\":{exp}}}",
            TesseraPayload(Record(TokenKind.Access)),
        })
        {
            Assert.Equal(TokenFailure.InvalidToken, codec.Validate(SignByHand(_key, header, payload), TokenKind.Access, Now).Failure);
        }
        Assert.Equal(TokenFailure.InvalidToken, codec.Validate(
            SignByHand(RandomNumberGenerator.GetBytes(32), header, $"{{\"exp\":{exp},\"compasSessionAccessToken\":\"{id}\"}}"), TokenKind.Access, Now).Failure);
        Assert.Equal(TokenFailure.InvalidToken, codec.Validate(
            SignByHand(_key, """{"alg":"HS256","typ":"JWT","kid":"nope"}""", $"{{\"exp\":{exp},\"compasSessionAccessToken\":\"{id}\"}}"), TokenKind.Access, Now).Failure);
    }

    [Fact]
    public async Task ACompasServiceTokenForARealSessionIsAcceptedByATesseraServiceInTheCompasProfile()
    {
        var (manager, _, _) = Manager([_key], o => o.Tokens.Profile = TokenProfile.Compas);
        var pair = await manager.Tokens.CreateAsync("alice");
        using var payload = JsonDocument.Parse(DecodeSegment(pair.AccessToken, 1));
        var id = payload.RootElement.GetProperty("compasSessionAccessToken").GetString();
        var exp = payload.RootElement.GetProperty("exp").GetInt64();
        // What Compas itself would send for that row: claim first, with an iat, no kid.
        var compas = SignByHand(_key, """{"alg":"HS256","typ":"JWT"}""", $"{{\"compasSessionAccessToken\":\"{id}\",\"iat\":{Now.ToUnixTimeSeconds()},\"exp\":{exp}}}");

        var got = await manager.Tokens.GetAsync(compas);

        Assert.True(got.Succeeded, got.Reason);
        Assert.Equal(pair.SessionId, got.Value!.Id);
    }

    // ---- tampering ------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(TokenProfile.Tessera)]
    [InlineData(TokenProfile.Compas)]
    public void EverySingleCharacterChangeOfAValidTokenIsRejected(TokenProfile profile)
    {
        const string characters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
        var codec = Codec(o => o.Profile = profile);
        var token = codec.Mint(Record(TokenKind.Access));
        Assert.Equal(TokenFailure.None, codec.Validate(token, TokenKind.Access, Now).Failure);
        var accepted = new List<string>();

        for (var position = 0; position < token.Length; position++)
        {
            foreach (var replacement in characters)
            {
                if (replacement == token[position])
                {
                    continue;
                }
                var changed = string.Concat(token.AsSpan(0, position), [replacement], token.AsSpan(position + 1));
                var failure = codec.Validate(changed, TokenKind.Access, Now).Failure;
                if (failure != TokenFailure.InvalidToken)
                {
                    accepted.Add($"position {position} -> '{replacement}': {failure}");
                }
            }
        }

        Assert.Empty(accepted);
    }

    [Fact]
    public void EveryTruncationOfAValidTokenIsRejected()
    {
        var codec = Codec();
        var token = codec.Mint(Record(TokenKind.Access));

        for (var length = 0; length < token.Length; length++)
        {
            Assert.Equal(TokenFailure.InvalidToken, codec.Validate(token[..length], TokenKind.Access, Now).Failure);
        }
    }
}
