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
    /// <param name="keyRings">
    /// The key rings to use (<c>UseDataProtectionKeys()</c> registers them); <see langword="null"/> builds one ring from
    /// <see cref="TesseraOptions.Keys"/> for cookies and tokens alike.
    /// </param>
    public SessionManager(ISessionStore store, IOptions<TesseraOptions> options, TimeProvider timeProvider, ILogger<SessionManager>? logger = null, TesseraMetrics? metrics = null, TesseraKeyRings? keyRings = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        Store = store;
        Options = options.Value;
        Time = timeProvider;
        Logger = (ILogger?)logger ?? NullLogger.Instance;
        Metrics = metrics ?? TesseraMetrics.Shared;
        Clock = new SessionClock(timeProvider);
        InstrumentedStore = new InstrumentedStore(store, Metrics, Options.StoreTimeout, timeProvider);
        if (Options.MaxSessionsPerSubject is not null && store is not ISubjectSessionLimiter)
        {
            throw new InvalidOperationException($"Tessera:MaxSessionsPerSubject is set, but the session store {store.GetType().Name} cannot limit a subject's sessions (it does not implement ISubjectSessionLimiter).");
        }
        Keys = keyRings?.Credentials ?? SigningKeyRing.FromBase64(Options.Keys);
        var tokenKeys = keyRings?.Tokens ?? Keys;
        Credentials = new CookieCredential(Keys, Options.VerifiedCredentialCacheSize);
        // The services below get what they need and never this manager, so calls run one way: manager -> services.
        Reporter = new SessionReporter(Options.Events, Metrics, Logger);
        Revoker = new SessionRevoker(InstrumentedStore, Clock, Reporter);
        SessionLimit = new SubjectSessionLimit(InstrumentedStore, Options, Clock, Reporter, Logger);
        Tokens = new Tokens.SessionTokenService(InstrumentedStore, Options, Clock, tokenKeys, Credentials, Revoker, SessionLimit, Reporter, Logger);
        Subjects = new SubjectSessions(InstrumentedStore, Clock, Revoker);
        CredentialLoader = new SessionCredentialLoader(InstrumentedStore, Credentials, Tokens, Clock, Logger);
        Committer = new SessionCommitter(InstrumentedStore, Options, Clock, Credentials, Revoker, SessionLimit, Reporter, Logger);
    }

    /// <summary>The store sessions are kept in.</summary>
    public ISessionStore Store { get; }

    /// <summary>The options in force.</summary>
    public TesseraOptions Options { get; }

    /// <summary>
    /// The key ring that signs cookie credentials: built from <see cref="TesseraOptions.Keys"/>, or the generated ring of
    /// <c>UseDataProtectionKeys()</c> (whose keys change as they rotate).
    /// </summary>
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

    /// <summary>The clock over <see cref="Time"/>, at the precision stores keep.</summary>
    internal SessionClock Clock { get; }

    internal ILogger Logger { get; }

    internal TesseraMetrics Metrics { get; }

    /// <summary>The store, measured: the core calls the store through this, never through <see cref="Store"/> directly.</summary>
    internal InstrumentedStore InstrumentedStore { get; }

    /// <summary>Reports creations, sign-ins and revocations (metrics and events).</summary>
    internal SessionReporter Reporter { get; }

    /// <summary>Revokes a session and reports it.</summary>
    internal SessionRevoker Revoker { get; }

    /// <summary>Applies <see cref="TesseraOptions.MaxSessionsPerSubject"/> at sign-in.</summary>
    internal SubjectSessionLimit SessionLimit { get; }

    /// <summary>Turns a presented credential into the live session it points at (a request's load).</summary>
    internal SessionCredentialLoader CredentialLoader { get; }

    /// <summary>Writes a request's changes (a request's commit).</summary>
    internal SessionCommitter Committer { get; }

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
        return Revoker.RevokeAsync(sessionId, null, reason, cancellationToken);
    }

    /// <summary>The current time at the millisecond precision stores keep.</summary>
    internal DateTimeOffset Now() => Clock.Now();
}
