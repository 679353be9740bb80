using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using Tessera.Tokens;

namespace Tessera;

/// <summary>
/// One request's view of a session: lazy (nothing is read until first use), change-tracked per key, committed once.
/// </summary>
/// <remarks>
/// Not thread-safe: one request, one thread at a time. Reading before <see cref="LoadAsync"/> loads synchronously;
/// prefer awaiting <see cref="LoadAsync"/> first. After <see cref="CommitAsync"/> the session is read-only.
/// </remarks>
// This type holds one request's state and the public surface; the jobs behind it are types of their own:
// SessionCredentialLoader verifies the presented cookie token or JWT and loads the record, SessionData is the data bag
// (per-key changes, size accounting), SessionCommitter plans and writes the commit (create, patch, touch), and
// SubjectSessionLimit and SessionReporter are the session limit and the metrics and events. The data, flash and tab
// members are in TesseraSession.Data.cs and TesseraSession.Tabs.cs.
public partial class TesseraSession : ISessionMetadataSource
{
    private readonly SessionManager _manager;
    private readonly string? _presentedCredential;
    private readonly SessionCredentialKind _credentialKind;
    private readonly SessionMetadata? _metadata;

    private bool _loaded;
    private SessionRecord? _record;
    private SessionData _data;
    private string? _subject;
    private bool _subjectChanged;
    private bool _regenerate;
    private SessionRecord? _destroyed;
    private string? _pendingId;
    private HashSet<string>? _flashesRead;
    private SessionCommitOutcome? _committed;
    private SessionStoreUnavailableException? _loadFailure;

    /// <summary>Creates a session view; applications get one from <see cref="SessionManager.Open"/> or the middleware.</summary>
    /// <param name="manager">The manager that loads and commits it.</param>
    /// <param name="presentedCredential">The credential the client sent, or <see langword="null"/>.</param>
    /// <param name="metadata">Metadata recorded if this view creates the session; <see langword="null"/> asks <see cref="CaptureMetadata"/>.</param>
    protected internal TesseraSession(SessionManager manager, string? presentedCredential, SessionMetadata? metadata)
        : this(manager, presentedCredential, SessionCredentialKind.Cookie, metadata)
    {
    }

    /// <summary>Creates a session view over a credential of the given kind.</summary>
    /// <param name="manager">The manager that loads and commits it.</param>
    /// <param name="presentedCredential">The credential the client sent, or <see langword="null"/>.</param>
    /// <param name="credentialKind">What the credential is: a cookie token or an access token.</param>
    /// <param name="metadata">Metadata recorded if this view creates the session; <see langword="null"/> asks <see cref="CaptureMetadata"/>.</param>
    protected internal TesseraSession(SessionManager manager, string? presentedCredential, SessionCredentialKind credentialKind, SessionMetadata? metadata)
    {
        ArgumentNullException.ThrowIfNull(manager);
        _manager = manager;
        _presentedCredential = presentedCredential;
        _credentialKind = credentialKind;
        _metadata = metadata;
    }

    /// <summary>What kind of credential this view was opened with.</summary>
    public SessionCredentialKind CredentialKind => _credentialKind;

    /// <summary>Whether the client presented a credential at all (valid or not).</summary>
    public bool HasPresentedCredential => _presentedCredential is not null;

    /// <summary>
    /// For a view opened with an access token: why the token found no session once loaded
    /// (<see cref="TokenFailure.None"/> when it did, or when no token was presented).
    /// </summary>
    public TokenFailure TokenFailure { get; private set; }

    /// <summary>
    /// For a view opened with an access token that found its session: when that token expires (its <c>exp</c>; the
    /// client refreshes before then). <see langword="null"/> for a cookie session, before loading, or when the token was
    /// refused. A long-lived connection opened with the token is closed at this time.
    /// </summary>
    public DateTimeOffset? AccessTokenExpiresAt { get; private set; }

    /// <summary>
    /// Whether the store failed (or did not answer within <see cref="TesseraOptions.StoreTimeout"/>) when this view was
    /// loaded. The view then reads as a new, anonymous session (it never grants access), the client's credential is left
    /// alone, and any write throws <see cref="SessionStoreUnavailableException"/> (a 503 from the middleware), because
    /// writing to a session whose stored state is unknown would lose it. <see langword="false"/> before loading.
    /// </summary>
    public bool IsStoreUnavailable => _loadFailure is not null;

    /// <summary>
    /// Loads the session (synchronously, if not loaded yet) and throws when the store failed while loading it, for code
    /// that must not answer "anonymous" during an outage: the ASP.NET Core middleware turns the exception into a 503
    /// with <c>Retry-After</c>. Does nothing when the session loaded (found or not).
    /// </summary>
    /// <exception cref="SessionStoreUnavailableException">The store failed or timed out while this session was loaded.</exception>
    public void ThrowIfStoreUnavailable()
    {
        EnsureLoaded();
        if (_loadFailure is { } failure)
        {
            throw new SessionStoreUnavailableException("The session store failed when this request's session was loaded.", failure);
        }
    }

    /// <summary>Whether the session has been loaded (or found absent) yet.</summary>
    public bool IsLoaded => _loaded;

    /// <summary>
    /// The stable session id. For a session not stored yet this is the id it will be stored under. Never a credential.
    /// </summary>
    public string Id
    {
        get
        {
            EnsureLoaded();
            return _record?.Id ?? (_pendingId ??= SessionIds.NewId());
        }
    }

    /// <summary>Whether no stored session backs this view (nothing was presented, or it was invalid, expired or revoked).</summary>
    public bool IsNew
    {
        get
        {
            EnsureLoaded();
            return _record is null;
        }
    }

    /// <summary>The signed-in subject, or <see langword="null"/> when anonymous.</summary>
    public string? Subject
    {
        get
        {
            EnsureLoaded();
            return _subject;
        }
    }

    /// <summary>Whether a subject is signed in.</summary>
    public bool IsAuthenticated => Subject is not null;

    /// <summary>
    /// Whether <see cref="CommitAsync"/> refused this request's sign-in because the subject already holds
    /// <see cref="TesseraOptions.MaxSessionsPerSubject"/> sessions under <see cref="SessionLimitPolicy.RefuseNewSignIn"/>:
    /// the session was revoked and the commit result clears the client's credential.
    /// </summary>
    public bool SignInRefused { get; private set; }

    /// <summary>When the session was created, or <see langword="null"/> for a new one.</summary>
    public DateTimeOffset? CreatedAt => Loaded()?.CreatedAt;

    /// <summary>When the session was last seen before this request, or <see langword="null"/> for a new one.</summary>
    public DateTimeOffset? LastSeenAt => Loaded()?.LastSeenAt;

    /// <summary>When the session expires unless used again, or <see langword="null"/> for a new one.</summary>
    public DateTimeOffset? ExpiresAt => Loaded()?.ExpiresAt;

    /// <summary>Metadata recorded at creation; empty for a new session.</summary>
    public SessionMetadata Metadata => Loaded()?.Metadata ?? SessionMetadata.Empty;

    /// <summary>Whether anything will be written at commit (data, subject, a new credential or a destroy).</summary>
    public bool HasChanges => _data.HasChanges || _subjectChanged || _regenerate || _destroyed is not null;

    /// <summary>Whether the session has been committed; it is read-only from then on.</summary>
    public bool IsCommitted => _committed is not null;

    /// <summary>
    /// Set by a host that has no response to carry a credential (a SignalR hub invocation): why this view may not sign
    /// in, regenerate or start a session. <see langword="null"/> (the default) allows everything.
    /// </summary>
    internal string? NoCredentialResponse { get; set; }

    /// <summary>
    /// Set with <see cref="NoCredentialResponse"/> when the session's state travels in the credential itself (the
    /// encrypted cookie store): then every write is refused, since each one changes the cookie.
    /// </summary>
    internal bool StateTravelsInCredential { get; set; }

    /// <summary>
    /// Loads the session: verifies the presented credential and reads the store once. Later calls return at once.
    /// An invalid, expired or revoked credential loads as a new, empty session (and logs a warning without the value).
    /// </summary>
    /// <param name="cancellationToken">Cancels the store read.</param>
    /// <returns>A task that completes when loaded.</returns>
    public ValueTask LoadAsync(CancellationToken cancellationToken = default) =>
        // Asked several times per request (authentication, parameter binding, the endpoint): once loaded, no state machine.
        _loaded ? default : LoadStoredAsync(cancellationToken);

    private ValueTask LoadStoredAsync(CancellationToken cancellationToken)
    {
        ValueTask<LoadedSession> pending;
        try
        {
            pending = _manager.CredentialLoader.LoadAsync(_presentedCredential, _credentialKind, cancellationToken);
        }
        catch (SessionStoreUnavailableException e)
        {
            Loaded(LoadFailed(e));
            return default;
        }
        if (pending.IsCompletedSuccessfully)
        {
            // The memory store (and a near-cache hit) answers at once: no state machine for the request's authentication.
            Loaded(pending.Result);
            return default;
        }
        return AwaitLoadedAsync(pending);
    }

    private async ValueTask AwaitLoadedAsync(ValueTask<LoadedSession> pending)
    {
        LoadedSession loaded;
        try
        {
            loaded = await pending.ConfigureAwait(false);
        }
        catch (SessionStoreUnavailableException e)
        {
            loaded = LoadFailed(e);
        }
        Loaded(loaded);
    }

    // The failure contract: no session (never access), the credential left alone, writes refused.
    private LoadedSession LoadFailed(SessionStoreUnavailableException e)
    {
        Log.LoadFailed(_manager.Logger, e.Operation, Log.ErrorType(e));
        _loadFailure = e;
        return default;
    }

    private void Loaded(LoadedSession loaded)
    {
        TokenFailure = loaded.TokenFailure;
        AccessTokenExpiresAt = loaded.AccessTokenExpiresAt;
        if (loaded.Rejection != CredentialRejection.None)
        {
            OnCredentialRejected(loaded.Rejection);
        }
        if (_loaded)
        {
            return;
        }
        _record = loaded.Record;
        _data = new SessionData(_record?.Data, _manager.Options.MaxDataBytes);
        _subject = _record?.Subject;
        _loaded = true;
    }

    /// <summary>
    /// Issues a new credential for this session at commit, keeping its id and data; the old credential stops working
    /// at once. A session not stored yet gets a fresh credential anyway, so this is a no-op for it.
    /// </summary>
    public void Regenerate()
    {
        EnsureWritable();
        EnsureCredentialCanChange();
        _regenerate = true;
    }

    /// <summary>
    /// Signs a subject in: sets it and always regenerates the credential (so a credential planted before sign-in is
    /// worthless after it). Anonymous data such as a cart is kept; data of a different subject is cleared.
    /// </summary>
    /// <param name="subject">The subject (user id): not empty, at most 256 characters.</param>
    /// <exception cref="ArgumentException">The subject is empty or too long.</exception>
    public void SignIn(string subject)
    {
        ValidateSubject(subject);
        EnsureWritable();
        EnsureCredentialCanChange();
        if (_subject is not null && !string.Equals(_subject, subject, StringComparison.Ordinal))
        {
            Clear();
        }
        _subject = subject;
        _subjectChanged = true;
        _regenerate = true;
    }

    /// <summary>
    /// <see cref="SignIn(string)"/> with what an authentication handler keeps beside the subject: the principal as JSON
    /// (under a reserved key, counted against <see cref="TesseraOptions.MaxDataBytes"/>) and when the sign-in ends, if
    /// before the absolute deadline. A sign-in without them removes those of an earlier sign-in.
    /// </summary>
    /// <exception cref="SessionDataTooLargeException">The principal does not fit; nothing changed.</exception>
    internal void SignInWithPrincipal(string subject, string principalJson, DateTimeOffset? endsAt)
    {
        ValidateSubject(subject);
        SessionKeys.ValidateValue(principalJson, nameof(principalJson));
        EnsureWritable();
        var endsJson = endsAt?.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var clears = _subject is not null && !string.Equals(_subject, subject, StringComparison.Ordinal);
        if (clears)
        {
            // Signing in as another subject clears the data first: what is left must fit alone, checked before anything
            // changes so a refused sign-in leaves the session as it was.
            var alone = SessionKeys.EntryBytes(SessionKeys.PrincipalKey, principalJson)
                + (endsJson is null ? 0 : SessionKeys.EntryBytes(SessionKeys.SignInEndsKey, endsJson));
            if (_manager.Options.MaxDataBytes is { } limit && alone > limit)
            {
                throw new SessionDataTooLargeException(SessionKeys.PrincipalKey, alone, limit);
            }
        }
        else
        {
            // Set before signing in (which keeps the data): a principal that does not fit throws before the subject changes.
            SetSignInKeys(principalJson, endsJson);
        }
        SignIn(subject);
        if (clears)
        {
            SetSignInKeys(principalJson, endsJson);
        }
    }

    private static void ValidateSubject(string subject)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(subject);
        if (subject.Length > 256)
        {
            throw new ArgumentException("A subject must be at most 256 characters long.", nameof(subject));
        }
    }

    private void SetSignInKeys(string principalJson, string? endsJson)
    {
        SetJson(SessionKeys.PrincipalKey, principalJson);
        if (endsJson is null)
        {
            RemoveKey(SessionKeys.SignInEndsKey);
        }
        else
        {
            SetJson(SessionKeys.SignInEndsKey, endsJson);
        }
    }

    /// <summary>The stored session's absolute deadline, or <see langword="null"/> for a new one.</summary>
    internal DateTimeOffset? AbsoluteExpiresAt => Loaded()?.AbsoluteExpiresAt;

    /// <summary>
    /// Signs out: the same as <see cref="Destroy"/>, because OWASP asks logout to end the session server-side.
    /// </summary>
    public void SignOut() => Destroy();

    /// <summary>
    /// Destroys the session: at commit it is revoked server-side (every credential of it dies) and the client is told
    /// to drop its credential. The view becomes a new, empty session; writing to it afterwards starts a new session
    /// with a new id and credential. Destroying a new session only discards its pending changes.
    /// </summary>
    public void Destroy()
    {
        EnsureWritable();
        if (_record is not null)
        {
            _destroyed = _record;
        }
        _record = null;
        _subject = null;
        _subjectChanged = false;
        _regenerate = false;
        _data = new SessionData(null, _manager.Options.MaxDataBytes);
        _pendingId = null;
    }

    /// <summary>
    /// Writes this request's changes: creates the session if it is new and has something to keep, applies the per-key
    /// patch, extends the idle deadline at most once per touch interval, revokes a destroyed session. Writes nothing when
    /// nothing changed. Calling it again returns the first result.
    /// </summary>
    /// <param name="cancellationToken">Cancels the store write.</param>
    /// <returns>What the transport must do with the client's credential.</returns>
    /// <exception cref="SessionStoreFullException">The store is full and refuses new sessions.</exception>
    /// <exception cref="SessionStoreUnavailableException">
    /// A store write failed or did not answer within <see cref="TesseraOptions.StoreTimeout"/>: the stored session is as it
    /// was before this commit (each write is atomic; a sign-in whose session limit could not be enforced is revoked).
    /// A failed touch of a session without changes does not throw.
    /// </exception>
    public async ValueTask<SessionCommitResult> CommitAsync(CancellationToken cancellationToken = default) =>
        (await CommitOutcomeAsync(cancellationToken).ConfigureAwait(false)).Result;

    /// <summary>
    /// <see cref="CommitAsync"/>, answering with what a transport may show of the commit (the deadlines it wrote,
    /// whether the request signed out); calling it again returns the first outcome.
    /// </summary>
    internal ValueTask<SessionCommitOutcome> CommitOutcomeAsync(CancellationToken cancellationToken)
    {
        if (_committed is { } done)
        {
            return new(done);
        }
        if (!_loaded)
        {
            _committed = SessionCommitOutcome.From(SessionCommitResult.Unchanged);
            return new(_committed.Value);
        }
        var changes = new SessionChanges(_record, _destroyed, _data, _subject, _subjectChanged, _regenerate, _credentialKind, _pendingId, this);
        var pending = _manager.Committer.CommitAsync(changes, cancellationToken);
        return pending.IsCompletedSuccessfully ? new(Committed(pending.Result)) : AwaitCommittedAsync(pending);
    }

    private async ValueTask<SessionCommitOutcome> AwaitCommittedAsync(ValueTask<SessionCommitted> pending) =>
        Committed(await pending.ConfigureAwait(false));

    private SessionCommitOutcome Committed(SessionCommitted committed)
    {
        _pendingId = committed.CreatedId ?? _pendingId;
        if (committed.SignInRefused)
        {
            // The session limit revoked this request's session: it ends anonymous.
            SignInRefused = true;
            _subject = null;
            _subjectChanged = false;
        }
        _committed = committed.Outcome;
        return committed.Outcome;
    }

    /// <summary>
    /// Metadata to record when this view creates a session. The base returns what was given to the constructor;
    /// transports override it to read the request lazily.
    /// </summary>
    /// <returns>The metadata.</returns>
    protected virtual SessionMetadata CaptureMetadata() => _metadata ?? SessionMetadata.Empty;

    SessionMetadata ISessionMetadataSource.CaptureMetadata() => CaptureMetadata();

    /// <summary>Called once when the presented credential is rejected; transports may count or react.</summary>
    /// <param name="rejection">Why it was rejected.</param>
    protected virtual void OnCredentialRejected(CredentialRejection rejection)
    {
    }

    private SessionRecord? Loaded()
    {
        EnsureLoaded();
        return _record;
    }

    private void EnsureLoaded()
    {
        if (!_loaded)
        {
            // Synchronous callers (ISession, property getters) block once here; async callers await LoadAsync first.
            LoadAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        }
    }

    private void EnsureWritable()
    {
        EnsureLoaded();
        if (_committed is not null)
        {
            throw new InvalidOperationException("The session was already committed (the response has started); changes can no longer be saved.");
        }
        if (_loadFailure is { } failure)
        {
            throw new SessionStoreUnavailableException("The session store failed when this request's session was loaded, so the session cannot be changed in this request.", failure);
        }
        if (_credentialKind == SessionCredentialKind.AccessToken && _record is null)
        {
            throw new SessionUnavailableException();
        }
        if (NoCredentialResponse is { } why && (StateTravelsInCredential || _record is null))
        {
            // A cookie session that does not exist yet would be created with a cookie nobody can deliver.
            throw new InvalidOperationException(why);
        }
    }

    private void EnsureCredentialCanChange()
    {
        if (NoCredentialResponse is { } why)
        {
            throw new InvalidOperationException(why);
        }
    }
}
