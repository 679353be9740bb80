using Microsoft.Extensions.Logging.Testing;
using System.Buffers.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tessera.Tokens;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// The token-session conformance suite: inherit it in a test class with the <see cref="StoreKit"/> of a store
/// that also implements <see cref="ISessionTokenStore"/>, and every token behaviour Tessera relies on (Compas's
/// create / get / update / invalidate / refresh / cleanup, and rotation with reuse detection, grace-window retries,
/// tombstones and lifetimes) is tested against your store through <see cref="SessionManager.Tokens"/>.
/// </summary>
/// <remarks>
/// A store that does not implement <see cref="ISessionTokenStore"/> fails every test with a message saying so. The
/// cleanup tests need <see cref="ISessionStoreCleanup"/>; a store that expires records by itself declares the gap by
/// overriding <see cref="SupportsCleanup"/> to <see langword="false"/>.
/// </remarks>
public abstract partial class TokenSessionConformanceTests<TKit> : StoreKitTests<TKit>
    where TKit : StoreKit, new()
{
    /// <summary>Everything the managers of this test class logged, for "no token reached a log line" checks.</summary>
    protected FakeLogCollector Logs { get; } = new();

    /// <summary>
    /// Whether the store implements <see cref="ISessionStoreCleanup"/>. Default <see langword="true"/>; override with
    /// <see langword="false"/> only for a store that expires records by itself (the cleanup tests then do not run).
    /// </summary>
    protected bool SupportsCleanup => Kit.SupportsCleanup;

    /// <summary>
    /// Adjusts the options of every manager the suite builds, after the suite's defaults (one fresh signing key) and
    /// before a test's own settings. Does nothing by default.
    /// </summary>
    /// <param name="options">The options to adjust.</param>
    protected virtual void ConfigureOptions(TesseraOptions options)
    {
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// A session refreshed for longer than its tokens live keeps only the rotated tokens that could still be presented:
    /// each rotation drops the session's rotated tokens that expired more than
    /// <see cref="TesseraDefaults.ExpiredTokenRetention"/> ago, so the store does not grow by a pair per refresh for the
    /// session's whole life (found by the soak in bench/).
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task RefreshingForLongerThanATokenLivesDropsTheExpiredRotatedTokens()
    {
        var h = NewHarness(o =>
        {
            o.Tokens.AccessTokenLifetime = TimeSpan.FromMinutes(1);
            o.Tokens.RefreshTokenLifetime = TimeSpan.FromMinutes(10);
        });
        var pair = await h.Service.CreateAsync("alice");
        var rotated = new List<(string Access, string Refresh)>();
        for (var minute = 1; minute <= 20; minute++)
        {
            Clock.Advance(TimeSpan.FromMinutes(1));
            var refreshed = await h.Service.RefreshAsync(pair.RefreshToken);
            Assert.True(refreshed.Succeeded, refreshed.Reason);
            rotated.Add((TokenId(pair.AccessToken), TokenId(pair.RefreshToken)));
            pair = refreshed.Value!;
        }

        // The i-th rotated refresh token expired at minute i + 10 and the last rotation (minute 20) dropped what expired
        // before minute 19: refresh tokens 0 to 8 are gone, 9 to 19 kept; access tokens (1 minute) 0 to 17 gone.
        var refreshKept = new List<int>();
        var accessKept = new List<int>();
        for (var i = 0; i < rotated.Count; i++)
        {
            if (await h.Tokens.LoadTokenAsync(rotated[i].Refresh) is not null)
            {
                refreshKept.Add(i);
            }
            if (await h.Tokens.LoadTokenAsync(rotated[i].Access) is not null)
            {
                accessKept.Add(i);
            }
        }
        Assert.Equal(Enumerable.Range(9, 11), refreshKept);
        Assert.Equal([18, 19], accessKept);
        Assert.NotNull(await h.Tokens.LoadTokenAsync(TokenId(pair.AccessToken)));
        Assert.NotNull(await h.Tokens.LoadTokenAsync(TokenId(pair.RefreshToken)));
        Assert.True((await h.Service.GetAsync(pair.AccessToken)).Succeeded);
    }

    /// <summary>
    /// Builds a store with <see cref="StoreKitTests{TKit}.CreateStore"/>, wraps it in a <see cref="CountingSessionStore"/>, and builds a
    /// manager over it on <see cref="StoreKitTests{TKit}.Clock"/>: one fresh signing key, then <see cref="ConfigureOptions"/>, then
    /// <paramref name="configure"/>. The options must pass <see cref="TesseraOptionsValidator"/>.
    /// </summary>
    /// <param name="configure">The test's own settings, or <see langword="null"/>.</param>
    /// <param name="metrics">Records the manager's metrics, or <see langword="null"/> for the shared static meter.</param>
    /// <returns>The store, its token view, the counter and the manager.</returns>
    protected TokenHarness NewHarness(Action<TesseraOptions>? configure = null, TesseraMetricCollector? metrics = null)
    {
        var inner = CreateStore();
        var tokens = inner as ISessionTokenStore ?? throw new Xunit.Sdk.XunitException(
            $"{inner.GetType().Name} does not implement ISessionTokenStore, so it cannot keep token sessions. Implement it to run {GetType().Name}, or do not inherit TokenSessionConformanceTests.");
        var options = new TesseraOptions();
        options.Keys.Add(SigningKeyRing.GenerateBase64Key());
        ConfigureOptions(options);
        configure?.Invoke(options);
        var validation = new TesseraOptionsValidator().Validate(null, options);
        if (validation.Failed)
        {
            throw new Xunit.Sdk.XunitException("The test's options are invalid: " + validation.FailureMessage);
        }
        var counting = new CountingSessionStore(inner);
#pragma warning disable CA2000 // the factory does not own the provider; the test class does, for its whole life
        var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(new FakeLoggerProvider(Logs)).SetMinimumLevel(LogLevel.Trace));
#pragma warning restore CA2000
        var manager = new SessionManager(counting, Options.Create(options), Clock, loggerFactory.CreateLogger<SessionManager>(), metrics is null ? null : new TesseraMetrics(metrics.Factory));
        return new TokenHarness(inner, tokens, counting, manager);
    }

    /// <summary>
    /// Whether this store's cleanup tests run: <see langword="false"/> when <see cref="SupportsCleanup"/> declares the
    /// gap; fails when the store lacks <see cref="ISessionStoreCleanup"/> without declaring it.
    /// </summary>
    /// <param name="harness">The harness whose store is checked.</param>
    /// <returns>Whether to run the cleanup part.</returns>
    protected bool Cleanup(TokenHarness harness)
    {
        ArgumentNullException.ThrowIfNull(harness);
        if (!SupportsCleanup)
        {
            return false;
        }
        return harness.Inner is ISessionStoreCleanup ? true : throw new Xunit.Sdk.XunitException(
            $"{harness.Inner.GetType().Name} does not implement ISessionStoreCleanup. Implement it, or override SupportsCleanup to return false in {GetType().Name} to declare that the store lacks it.");
    }

    /// <summary>Builds session data from pairs of key and JSON text.</summary>
    /// <param name="pairs">The keys and JSON texts.</param>
    /// <returns>The data.</returns>
    protected static Dictionary<string, string> Data(params (string Key, string Json)[] pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, json) in pairs)
        {
            data[key] = json;
        }
        return data;
    }

    /// <summary>Decodes a JWT's payload (the middle part) without checking anything.</summary>
    /// <param name="jwt">The token.</param>
    /// <returns>The payload's root element.</returns>
    protected static JsonElement Payload(string jwt)
    {
        ArgumentNullException.ThrowIfNull(jwt);
        var parts = jwt.Split('.');
        Assert.Equal(3, parts.Length);
        using var document = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
        return document.RootElement.Clone();
    }

    /// <summary>The token id a JWT carries: its <c>jti</c>, or under the Compas profile its Compas claim.</summary>
    /// <param name="jwt">The token.</param>
    /// <returns>The id.</returns>
    protected static string TokenId(string jwt)
    {
        var payload = Payload(jwt);
        foreach (var claim in new[] { "jti", "compasSessionAccessToken", "compasSessionRefreshToken" })
        {
            if (payload.TryGetProperty(claim, out var id))
            {
                return id.GetString()!;
            }
        }
        throw new Xunit.Sdk.XunitException("The token carries no token id.");
    }

    /// <summary>A new, unstored token pair for a session, issued at <paramref name="now"/> (cut to whole seconds).</summary>
    /// <param name="sessionId">The session.</param>
    /// <param name="now">The issue time.</param>
    /// <param name="refreshLifetime">The refresh token's lifetime; 1 day when <see langword="null"/>. The access token lives 5 minutes.</param>
    /// <returns>The access and refresh records, paired with each other.</returns>
    protected static (TokenRecord Access, TokenRecord Refresh) NewPair(string sessionId, DateTimeOffset now, TimeSpan? refreshLifetime = null)
    {
        var issued = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds());
        var accessId = SessionRoute.NewTokenId(sessionId);
        var refreshId = SessionRoute.NewTokenId(sessionId);
        var access = new TokenRecord
        {
            Id = accessId,
            SessionId = sessionId,
            Kind = TokenKind.Access,
            PairedTokenId = refreshId,
            CreatedAt = issued,
            ExpiresAt = issued + TimeSpan.FromMinutes(5),
        };
        return (access, access with
        {
            Id = refreshId,
            Kind = TokenKind.Refresh,
            PairedTokenId = accessId,
            ExpiresAt = issued + (refreshLifetime ?? TimeSpan.FromDays(1)),
        });
    }

    /// <summary>
    /// Asserts that two JSON texts hold the same value. The token suite compares values, not texts: whether a store keeps
    /// the exact text is the store suite's business (<see cref="SessionStoreConformanceTests{TKit}"/>), so a failure there is
    /// not reported twice.
    /// </summary>
    /// <param name="expected">The JSON text expected.</param>
    /// <param name="actual">The JSON text found.</param>
    protected static void AssertSameJson(string expected, string actual)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        using var left = JsonDocument.Parse(expected);
        using var right = JsonDocument.Parse(actual);
        Assert.True(JsonElement.DeepEquals(left.RootElement, right.RootElement), $"expected the JSON value {expected}, found {actual}");
    }

    private static void AssertToken(TokenRecord token, string id, string sessionId, TokenKind kind, string pairedId, DateTimeOffset expiresAt)
    {
        Assert.Equal(id, token.Id);
        Assert.Equal(sessionId, token.SessionId);
        Assert.Equal(kind, token.Kind);
        Assert.Equal(pairedId, token.PairedTokenId);
        Assert.Equal(expiresAt, token.ExpiresAt);
    }

    private static void AssertCapped(TokenPair pair, DateTimeOffset end)
    {
        Assert.True(pair.AccessTokenExpiresAt <= end, $"access token expires at {pair.AccessTokenExpiresAt:O}, after the session's end {end:O}");
        Assert.True(pair.RefreshTokenExpiresAt <= end, $"refresh token expires at {pair.RefreshTokenExpiresAt:O}, after the session's end {end:O}");
        Assert.True(Payload(pair.AccessToken).GetProperty("exp").GetInt64() <= end.ToUnixTimeSeconds());
        Assert.True(Payload(pair.RefreshToken).GetProperty("exp").GetInt64() <= end.ToUnixTimeSeconds());
    }
}

/// <summary>What a token conformance test works with: the store, its token view, a counting wrapper and a manager.</summary>
/// <param name="Inner">The store under test, as <see cref="StoreKitTests{TKit}.CreateStore"/> made it.</param>
/// <param name="Tokens">The same store as an <see cref="ISessionTokenStore"/>.</param>
/// <param name="Counting">The counting wrapper the manager uses, for "how many writes" checks.</param>
/// <param name="Manager">The manager over <paramref name="Counting"/>.</param>
public sealed record TokenHarness(ISessionStore Inner, ISessionTokenStore Tokens, CountingSessionStore Counting, SessionManager Manager)
{
    /// <summary>The manager's token service.</summary>
    public SessionTokenService Service => Manager.Tokens;

    /// <summary>The manager's options.</summary>
    public TesseraOptions Options => Manager.Options;
}
