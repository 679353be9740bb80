using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Tessera;

/// <summary>Options of the session core, validated at start-up. Bound from the <c>Tessera</c> configuration section.</summary>
public sealed class TesseraOptions
{
    /// <summary>
    /// Signing keys as base64, each at least 32 bytes; the first signs, all verify. Required unless keys come from
    /// elsewhere (<c>UseDataProtectionKeys()</c>): then, when given, they sign and verify only the access and refresh
    /// tokens (JWTs), for a system such as Compas that must verify them. An empty list without another key source fails
    /// validation (the demo generates a development key; a production app must configure one).
    /// </summary>
    public IList<string> Keys { get; } = [];

    /// <summary>
    /// What supplies the keys instead of <see cref="Keys"/> (for example <c>"UseDataProtectionKeys()"</c>), or
    /// <see langword="null"/> when <see cref="Keys"/> must be configured. Set by the extension that registers the source.
    /// </summary>
    internal string? KeySource { get; set; }

    /// <summary>The sliding idle timeout. Default <see cref="TesseraDefaults.IdleTimeout"/> (30 minutes); must be positive.</summary>
    public TimeSpan IdleTimeout { get; set; } = TesseraDefaults.IdleTimeout;

    /// <summary>
    /// The sliding idle timeout of an anonymous session (one without a subject). Default
    /// <see cref="TesseraDefaults.AnonymousIdleTimeout"/> (15 minutes); must be positive and longer than
    /// <see cref="TouchInterval"/>. When it is longer than <see cref="IdleTimeout"/>, <see cref="IdleTimeout"/> applies
    /// instead: an anonymous session never outlives a signed-in one. Signing in moves the session onto
    /// <see cref="IdleTimeout"/> at once; a token session's idle deadline follows its refresh token either way.
    /// </summary>
    public TimeSpan AnonymousIdleTimeout { get; set; } = TesseraDefaults.AnonymousIdleTimeout;

    /// <summary>
    /// The absolute lifetime that caps everything, measured from creation. Default
    /// <see cref="TesseraDefaults.AbsoluteLifetime"/> (8 hours); must be at least <see cref="IdleTimeout"/>.
    /// </summary>
    public TimeSpan AbsoluteLifetime { get; set; } = TesseraDefaults.AbsoluteLifetime;

    /// <summary>
    /// How often the idle deadline may be extended, by a read (a touch) or a write alike; a sign-in, a sign-out and a new
    /// credential move it at once. Default <see cref="TesseraDefaults.TouchInterval"/> (1 minute); zero extends it on
    /// every request (one write per request); must be shorter than <see cref="IdleTimeout"/>.
    /// </summary>
    public TimeSpan TouchInterval { get; set; } = TesseraDefaults.TouchInterval;

    /// <summary>
    /// The idle timeout that applies to a session with <paramref name="subject"/>: <see cref="IdleTimeout"/> when
    /// signed in, the shorter of <see cref="AnonymousIdleTimeout"/> and <see cref="IdleTimeout"/> when anonymous.
    /// </summary>
    /// <param name="subject">The session's subject, or <see langword="null"/> for an anonymous session.</param>
    /// <returns>The idle timeout.</returns>
    public TimeSpan IdleTimeoutFor(string? subject) =>
        subject is null && AnonymousIdleTimeout < IdleTimeout ? AnonymousIdleTimeout : IdleTimeout;

    /// <summary>
    /// Serializer options for typed values. Default: <see cref="JsonSerializerDefaults.Web"/> (camelCase,
    /// case-insensitive reading).
    /// </summary>
    public JsonSerializerOptions JsonSerializerOptions { get; set; } = new(JsonSerializerDefaults.Web);

    /// <summary>Whether the cleanup service runs. Default <see langword="true"/>.</summary>
    public bool CleanupEnabled { get; set; } = true;

    /// <summary>How often cleanup runs. Default <see cref="TesseraDefaults.CleanupInterval"/> (5 minutes); must be positive.</summary>
    public TimeSpan CleanupInterval { get; set; } = TesseraDefaults.CleanupInterval;

    /// <summary>Most sessions one cleanup batch deletes. Default <see cref="TesseraDefaults.CleanupBatchSize"/>; at least 1.</summary>
    public int CleanupBatchSize { get; set; } = TesseraDefaults.CleanupBatchSize;

    /// <summary>
    /// How long the background cleanup waits at least between two batches of one run, measured on the injected
    /// <see cref="TimeProvider"/>; when a batch took longer than this, the pause is as long as the batch took, so cleanup
    /// never has more than half of the store's time. Default <see cref="TesseraDefaults.CleanupBatchPause"/> (10 ms);
    /// zero runs the batches back to back; at most one minute. <see cref="SessionCleanupService.RunOnceAsync(CancellationToken)"/> (used by the CLI's <c>gc</c>
    /// and by tests) never pauses.
    /// </summary>
    public TimeSpan CleanupBatchPause { get; set; } = TesseraDefaults.CleanupBatchPause;

    /// <summary>
    /// How long a request waits for one store call (a load, a write of its commit) before giving up on it, measured on
    /// the injected <see cref="TimeProvider"/>. Default <see cref="TesseraDefaults.StoreTimeout"/> (5 seconds); must be
    /// positive, or <see cref="Timeout.InfiniteTimeSpan"/> to wait as long as the store's driver does. A load that times
    /// out leaves the request without a session (<see cref="TesseraSession.IsStoreUnavailable"/>); a commit that times
    /// out throws <see cref="SessionStoreUnavailableException"/> (a 503). The in-memory store does no I/O and is never
    /// timed; cleanup runs in the background and is not timed either.
    /// </summary>
    public TimeSpan StoreTimeout { get; set; } = TesseraDefaults.StoreTimeout;

    /// <summary>
    /// The <c>Retry-After</c> the ASP.NET Core middleware sends with a 503 answered because the store failed. Default
    /// <see cref="TesseraDefaults.StoreRetryAfter"/> (5 seconds); sent in whole seconds, at least 1 and at most 1 hour.
    /// </summary>
    public TimeSpan StoreRetryAfter { get; set; } = TesseraDefaults.StoreRetryAfter;

    /// <summary>
    /// The most data one session may hold, in bytes: the UTF-8 length of every key plus its JSON value, flash values
    /// included. Default <see cref="TesseraDefaults.MaxDataBytes"/> (64 KiB); at least 1,024, or <see langword="null"/>
    /// for no limit. A write that would exceed it throws <see cref="SessionDataTooLargeException"/> and is not made
    /// (the middleware answers an unhandled one with 413); data already stored above a lowered limit stays readable and
    /// can always shrink.
    /// </summary>
    public int? MaxDataBytes { get; set; } = TesseraDefaults.MaxDataBytes;

    /// <summary>
    /// How many verified session cookies are remembered, so that a cookie presented again (the same text, as a browser
    /// sends it on every request) is accepted without checking its HMAC and hashing its token again; the session is still
    /// read from the store on every request, so expiry and revocation apply as before. Default
    /// <see cref="TesseraDefaults.VerifiedCredentialCacheSize"/> (4,096); 0 to 1,000,000, where 0 remembers none (every
    /// request verifies its cookie in full). Only cookies that passed are remembered; when the cache is full it is
    /// emptied and starts again. A remembered cookie's text stays in the process's memory until then; replacing the key
    /// ring (a key rotation through <c>UseDataProtectionKeys()</c>) makes every cookie be verified again.
    /// </summary>
    public int VerifiedCredentialCacheSize { get; set; } = TesseraDefaults.VerifiedCredentialCacheSize;

    /// <summary>
    /// How long cleanup keeps a revoked session (for audit and "your devices" lists) before deleting it even though it
    /// has not expired. Default <see langword="null"/>: revoked sessions stay until their own expiry.
    /// </summary>
    public TimeSpan? RevokedRetention { get; set; }

    /// <summary>
    /// The most live sessions one subject may hold at once (cookie and token sessions together), enforced atomically
    /// right after each sign-in as <see cref="SessionLimitPolicy"/> says. Default <see langword="null"/>: unlimited.
    /// At least 1; needs a store that implements <see cref="ISubjectSessionLimiter"/> (all of Tessera's stores do).
    /// </summary>
    public int? MaxSessionsPerSubject { get; set; }

    /// <summary>
    /// What a sign-in beyond <see cref="MaxSessionsPerSubject"/> does. Default
    /// <see cref="Tessera.SessionLimitPolicy.RevokeLeastRecentlyUsed"/>.
    /// </summary>
    public SessionLimitPolicy SessionLimitPolicy { get; set; } = SessionLimitPolicy.RevokeLeastRecentlyUsed;

    /// <summary>
    /// What metadata new sessions record (section <c>Tessera:Metadata</c>): by default the User-Agent and the full IP
    /// address. Never <see langword="null"/>.
    /// </summary>
    public SessionMetadataOptions Metadata { get; } = new();

    /// <summary>Per-tab scope options (section <c>Tessera:Tabs</c>). Never <see langword="null"/>.</summary>
    public TesseraTabOptions Tabs { get; } = new();

    /// <summary>Token-session options (section <c>Tessera:Tokens</c>). Never <see langword="null"/>.</summary>
    public Tokens.TesseraTokenOptions Tokens { get; } = new();

    /// <summary>
    /// Session lifecycle hooks (created, signed in, revoked, expired); every hook is <see langword="null"/> by default.
    /// Not bound from configuration. Never <see langword="null"/>.
    /// </summary>
    public TesseraSessionEvents Events { get; } = new();

    /// <summary>Token-session event hooks (refresh-token reuse). Never <see langword="null"/>.</summary>
    public Tokens.TesseraTokenEvents TokenEvents { get; } = new();
}

/// <summary>Validates <see cref="TesseraOptions"/> at start-up, naming every problem at once and never a key's value.</summary>
public sealed class TesseraOptionsValidator : IValidateOptions<TesseraOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, TesseraOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.Keys.Count == 0 && options.KeySource is null)
        {
            failures.Add("Tessera:Keys is empty: configure at least one base64 signing key of 32 bytes or more (generate one with SigningKeyRing.GenerateBase64Key()).");
        }
        else if (options.Keys.Count > 0)
        {
            try
            {
                _ = SigningKeyRing.FromBase64(options.Keys);
            }
            catch (ArgumentException e)
            {
                failures.Add("Tessera:Keys: " + e.Message.Split(" (Parameter", 2)[0]);
            }
        }
        if (options.IdleTimeout <= TimeSpan.Zero)
        {
            failures.Add("Tessera:IdleTimeout must be positive.");
        }
        if (options.AbsoluteLifetime < options.IdleTimeout)
        {
            failures.Add("Tessera:AbsoluteLifetime must be at least Tessera:IdleTimeout.");
        }
        if (options.TouchInterval < TimeSpan.Zero || options.TouchInterval >= options.IdleTimeout)
        {
            failures.Add("Tessera:TouchInterval must be zero or more and shorter than Tessera:IdleTimeout.");
        }
        if (options.AnonymousIdleTimeout <= TimeSpan.Zero)
        {
            failures.Add("Tessera:AnonymousIdleTimeout must be positive.");
        }
        else if (options.TouchInterval >= options.IdleTimeoutFor(subject: null) && options.TouchInterval < options.IdleTimeout)
        {
            failures.Add("Tessera:TouchInterval must be shorter than Tessera:AnonymousIdleTimeout, or anonymous sessions expire between two touches.");
        }
        if (options.CleanupInterval <= TimeSpan.Zero)
        {
            failures.Add("Tessera:CleanupInterval must be positive.");
        }
        if (options.CleanupBatchPause < TimeSpan.Zero || options.CleanupBatchPause > TimeSpan.FromMinutes(1))
        {
            failures.Add("Tessera:CleanupBatchPause must be between zero and one minute.");
        }
        if (options.CleanupBatchSize < 1)
        {
            failures.Add("Tessera:CleanupBatchSize must be at least 1.");
        }
        if (options.StoreTimeout <= TimeSpan.Zero && options.StoreTimeout != Timeout.InfiniteTimeSpan)
        {
            failures.Add("Tessera:StoreTimeout must be positive (or infinite).");
        }
        if (options.StoreRetryAfter < TimeSpan.FromSeconds(1) || options.StoreRetryAfter > TimeSpan.FromHours(1))
        {
            failures.Add("Tessera:StoreRetryAfter must be between 1 second and 1 hour.");
        }
        if (options.MaxDataBytes < 1024)
        {
            failures.Add("Tessera:MaxDataBytes must be at least 1024 (or unset for no limit).");
        }
        if (options.RevokedRetention < TimeSpan.Zero)
        {
            failures.Add("Tessera:RevokedRetention must not be negative.");
        }
        if (options.MaxSessionsPerSubject < 1)
        {
            failures.Add("Tessera:MaxSessionsPerSubject must be at least 1 (or unset for no limit).");
        }
        if (!Enum.IsDefined(options.SessionLimitPolicy))
        {
            failures.Add("Tessera:SessionLimitPolicy must be RevokeLeastRecentlyUsed or RefuseNewSignIn.");
        }
        if (!Enum.IsDefined(options.Metadata.IpAddress))
        {
            failures.Add("Tessera:Metadata:IpAddress must be Full, Truncated or Off.");
        }
        if (options.VerifiedCredentialCacheSize is < 0 or > 1_000_000)
        {
            failures.Add("Tessera:VerifiedCredentialCacheSize must be between 0 and 1000000.");
        }
        ValidateTokens(options.Tokens, failures);
        TesseraTabOptions.Validate(options.Tabs, failures);
        if (options.JsonSerializerOptions is null)
        {
            failures.Add("Tessera:JsonSerializerOptions must not be null.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void ValidateTokens(Tokens.TesseraTokenOptions tokens, List<string> failures)
    {
        if (tokens.AccessTokenLifetime <= TimeSpan.Zero)
        {
            failures.Add("Tessera:Tokens:AccessTokenLifetime must be positive.");
        }
        if (tokens.AccessTokenLifetime >= tokens.RefreshTokenLifetime)
        {
            failures.Add("Tessera:Tokens:AccessTokenLifetime must be shorter than Tessera:Tokens:RefreshTokenLifetime.");
        }
        if (tokens.RefreshTokenLifetime > tokens.SessionLifetime)
        {
            failures.Add("Tessera:Tokens:RefreshTokenLifetime must not exceed Tessera:Tokens:SessionLifetime (the session's absolute lifetime caps every token).");
        }
        if (tokens.ClockSkew < TimeSpan.Zero || tokens.ClockSkew > TimeSpan.FromMinutes(5))
        {
            failures.Add("Tessera:Tokens:ClockSkew must be between 0 and 5 minutes.");
        }
        if (tokens.ReuseGraceWindow < TimeSpan.Zero || tokens.ReuseGraceWindow > TimeSpan.FromMinutes(1))
        {
            failures.Add("Tessera:Tokens:ReuseGraceWindow must be between 0 and 1 minute.");
        }
        if (tokens.MaxTokenLength is < 256 or > 65536)
        {
            failures.Add("Tessera:Tokens:MaxTokenLength must be between 256 and 65536.");
        }
        if (tokens.VerifiedTokenCacheSize is < 0 or > 1_000_000)
        {
            failures.Add("Tessera:Tokens:VerifiedTokenCacheSize must be between 0 and 1000000.");
        }
    }
}
