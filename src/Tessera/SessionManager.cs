using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Tessera;

/// <summary>
/// Opens sessions for requests and commits their changes to the store. One per application (a singleton); thread-safe.
/// </summary>
public sealed class SessionManager
{
    /// <summary>Creates a manager.</summary>
    /// <param name="store">Where sessions live.</param>
    /// <param name="options">Validated options.</param>
    /// <param name="timeProvider">The clock; <see cref="TimeProvider.System"/> in production, a fake one in tests.</param>
    /// <param name="logger">The logger; <see langword="null"/> logs nothing.</param>
    /// <param name="metrics">The instruments to record into; <see langword="null"/> uses ones on a static <c>Tessera</c> meter.</param>
    public SessionManager(ISessionStore store, IOptions<TesseraOptions> options, TimeProvider timeProvider, ILogger<SessionManager>? logger = null, TesseraMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        Store = store;
        Options = options.Value;
        Time = timeProvider;
        Logger = (ILogger?)logger ?? NullLogger.Instance;
        Metrics = metrics ?? TesseraMetrics.Shared;
        Calls = new InstrumentedStore(store, Metrics, Options.StoreTimeout, timeProvider);
        if (Options.MaxSessionsPerSubject is not null && store is not ISubjectSessionLimiter)
        {
            throw new InvalidOperationException($"Tessera:MaxSessionsPerSubject is set, but the session store {store.GetType().Name} cannot limit a subject's sessions (it does not implement ISubjectSessionLimiter).");
        }
        Keys = SigningKeyRing.FromBase64(Options.Keys);
        Credentials = new CookieCredential(Keys);
        Tokens = new Tokens.SessionTokenService(this);
        Subjects = new SubjectSessions(this);
    }

    /// <summary>The store sessions are kept in.</summary>
    public ISessionStore Store { get; }

    /// <summary>The options in force.</summary>
    public TesseraOptions Options { get; }

    /// <summary>The key ring built from <see cref="TesseraOptions.Keys"/>.</summary>
    public SigningKeyRing Keys { get; }

    /// <summary>The cookie credential format over <see cref="Keys"/>.</summary>
    public CookieCredential Credentials { get; }

    /// <summary>Token sessions (access and refresh JWTs) over the same store; needs a store with <see cref="Tokens.ISessionTokenStore"/>.</summary>
    public Tokens.SessionTokenService Tokens { get; }

    /// <summary>
    /// Per-user session management: list a subject's sessions, revoke one of them, all of them, or all but the current
    /// one. Needs a store with <see cref="ISubjectSessionIndex"/>.
    /// </summary>
    public SubjectSessions Subjects { get; }

    internal TimeProvider Time { get; }

    internal ILogger Logger { get; }

    internal TesseraMetrics Metrics { get; }

    /// <summary>The store, measured: the core calls the store through this, never through <see cref="Store"/> directly.</summary>
    internal InstrumentedStore Calls { get; }

    /// <summary>
    /// Opens the session a credential points at, without touching the store: loading happens on first use.
    /// </summary>
    /// <param name="credential">The credential the client presented, or <see langword="null"/> when it sent none.</param>
    /// <param name="metadata">Recorded if this request creates a session; <see langword="null"/> records nothing.</param>
    /// <returns>A session object for one unit of work (one request); not thread-safe.</returns>
    public TesseraSession Open(string? credential, SessionMetadata? metadata = null) =>
        new(this, credential, metadata);

    /// <summary>
    /// Opens the session an access token points at, without touching the store: loading happens on first use. Such a
    /// view reads and writes the token session's data; it cannot create a session (use <see cref="Tokens"/>).
    /// </summary>
    /// <param name="accessToken">The access token the client presented, or <see langword="null"/>.</param>
    /// <returns>A session object for one unit of work; not thread-safe.</returns>
    public TesseraSession OpenWithAccessToken(string? accessToken) =>
        new(this, accessToken, SessionCredentialKind.AccessToken, null);

    /// <summary>
    /// Revokes a session by id, ending it for every credential; a missing session is a no-op. Raises
    /// <see cref="TesseraSessionEvents.OnRevoked"/> with <see cref="SessionRevocationReason.Operator"/>.
    /// </summary>
    /// <param name="sessionId">The session id.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns><see langword="true"/> when a live session was revoked.</returns>
    public ValueTask<bool> RevokeAsync(string sessionId, CancellationToken cancellationToken = default) =>
        RevokeAsync(sessionId, SessionRevocationReason.Operator, cancellationToken);

    /// <summary>
    /// Revokes a session by id for a given reason, ending it for every credential; a missing or already revoked session
    /// is a no-op that raises nothing. Raises <see cref="TesseraSessionEvents.OnRevoked"/> and counts
    /// <c>tessera.sessions.revoked</c> with the reason.
    /// </summary>
    /// <param name="sessionId">The session id.</param>
    /// <param name="reason">Why; it becomes the event's reason and the metric's <c>reason</c> tag.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns><see langword="true"/> when a live session was revoked.</returns>
    public ValueTask<bool> RevokeAsync(string sessionId, SessionRevocationReason reason, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        return RevokeAsync(sessionId, null, reason, cancellationToken);
    }

    /// <summary>Revokes, then reports; <paramref name="known"/> is the record when the caller already holds it.</summary>
    internal async ValueTask<bool> RevokeAsync(string sessionId, SessionRecord? known, SessionRevocationReason reason, CancellationToken cancellationToken)
    {
        var handler = Options.Events.OnRevoked;
        if (known is null && handler is not null)
        {
            // Only a subscriber needs the subject and metadata; without one, revoking stays a single store call.
            known = await Calls.LoadAsync(sessionId, cancellationToken);
        }
        var now = Now();
        var revoked = await Calls.RevokeAsync(sessionId, now, cancellationToken);
        if (revoked)
        {
            Log.SessionRevoked(Logger, Log.Ref(sessionId), reason);
            Metrics.Revoked(reason);
            await SessionEventDispatch.RaiseAsync(handler, new SessionRevokedEvent(sessionId, known?.Subject, reason, now, known?.Metadata ?? SessionMetadata.Empty), Logger);
        }
        return revoked;
    }

    /// <summary>
    /// Applies <see cref="TesseraOptions.MaxSessionsPerSubject"/> after <paramref name="sessionId"/> was signed in as
    /// <paramref name="subject"/>: one atomic store trim, then the log, metric and event of every session it revoked.
    /// </summary>
    /// <returns><see langword="false"/> when the new session was revoked (the sign-in is refused).</returns>
    internal async ValueTask<bool> EnforceSessionLimitAsync(string subject, string sessionId, SessionMetadata metadata, CancellationToken cancellationToken)
    {
        if (Options.MaxSessionsPerSubject is not { } keep)
        {
            return true;
        }
        var limiter = (ISubjectSessionLimiter)Store;
        var refuse = Options.SessionLimitPolicy == SessionLimitPolicy.RefuseNewSignIn;
        var handler = Options.Events.OnRevoked;
        Dictionary<string, SessionMetadata>? known = null;
        if (handler is not null && Store is ISubjectSessionIndex index)
        {
            // Only a subscriber needs the revoked sessions' metadata, and a revoked session can no longer be read.
            var before = await Calls.ListBySubjectAsync(index, subject, cancellationToken);
            if (before.Count <= keep)
            {
                return true;
            }
            known = before.ToDictionary(r => r.Id, r => r.Metadata, StringComparer.Ordinal);
        }
        var now = Now();
        var revoked = await Calls.TrimSubjectAsync(
            limiter,
            subject,
            keep,
            // Refusing revokes only the newcomer, so a sign-in once accepted is never revoked by a racing one.
            refuse ? SessionLimitOrder.NewcomerOnly : SessionLimitOrder.MostRecentlySeen,
            sessionId,
            now,
            cancellationToken);
        var kept = true;
        foreach (var id in revoked)
        {
            kept &= !string.Equals(id, sessionId, StringComparison.Ordinal);
            Log.SessionRevoked(Logger, Log.Ref(id), SessionRevocationReason.Limit);
            Metrics.Revoked(SessionRevocationReason.Limit);
            var revokedMetadata = string.Equals(id, sessionId, StringComparison.Ordinal) ? metadata
                : known is not null && known.TryGetValue(id, out var m) ? m
                : SessionMetadata.Empty;
            await SessionEventDispatch.RaiseAsync(handler, new SessionRevokedEvent(id, subject, SessionRevocationReason.Limit, now, revokedMetadata), Logger);
        }
        return kept;
    }

    /// <summary>The current time at the millisecond precision stores keep.</summary>
    internal DateTimeOffset Now()
    {
        var now = Time.GetUtcNow();
        return new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
    }

    /// <summary>
    /// A new random id in UUID version 4 form (122 random bits from the OS generator): unguessable, and the shape
    /// Compas's PostgreSQL tables use for session and token ids.
    /// </summary>
    internal static string NewId()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x40); // version 4 (Guid's byte order puts the version in byte 7)
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new Guid(bytes).ToString("D");
    }
}
