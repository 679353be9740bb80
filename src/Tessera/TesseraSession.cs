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
public partial class TesseraSession
{
    private readonly SessionManager _manager;
    private readonly string? _presentedCredential;
    private readonly SessionCredentialKind _credentialKind;
    private readonly SessionMetadata? _metadata;

    private bool _loaded;
    private SessionRecord? _record;
    private Dictionary<string, string?>? _changes;
    private bool _cleared;
    private string? _subject;
    private bool _subjectChanged;
    private bool _regenerate;
    private SessionRecord? _destroyed;
    private string? _pendingId;
    private HashSet<string>? _flashesRead;
    private SessionCommitResult? _committed;
    private SessionStoreUnavailableException? _loadFailure;
    private long _dataBytes = -1;

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
    public bool HasChanges => _changes is { Count: > 0 } || _cleared || _subjectChanged || _regenerate || _destroyed is not null;

    /// <summary>Whether the session has been committed; it is read-only from then on.</summary>
    public bool IsCommitted => _committed is not null;

    /// <summary>The data keys currently visible (flash values excluded), in no particular order.</summary>
    public IReadOnlyCollection<string> Keys
    {
        get
        {
            var keys = StoredKeys();
            keys.RemoveWhere(k => k.StartsWith(SessionKeys.ReservedPrefix, StringComparison.Ordinal));
            return keys;
        }
    }

    /// <summary>
    /// The idle and absolute deadlines this view's commit wrote to the store (it created, changed or touched the
    /// session), or <see langword="null"/> when the commit wrote none; the cookie transport keeps its public indicator
    /// cookie in step with them.
    /// </summary>
    internal (DateTimeOffset IdleExpiresAt, DateTimeOffset AbsoluteExpiresAt)? CommittedDeadlines { get; private set; }

    // Every key the session holds as this request sees it, reserved ones (flash, tabs) included.
    private HashSet<string> StoredKeys()
    {
        EnsureLoaded();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        if (!_cleared && _record is not null)
        {
            keys.UnionWith(_record.Data.Keys);
        }
        if (_changes is not null)
        {
            foreach (var (key, value) in _changes)
            {
                if (value is null)
                {
                    keys.Remove(key);
                }
                else
                {
                    keys.Add(key);
                }
            }
        }
        return keys;
    }

    /// <summary>
    /// Loads the session: verifies the presented credential and reads the store once. Later calls return at once.
    /// An invalid, expired or revoked credential loads as a new, empty session (and logs a warning without the value).
    /// </summary>
    /// <param name="cancellationToken">Cancels the store read.</param>
    /// <returns>A task that completes when loaded.</returns>
    public async ValueTask LoadAsync(CancellationToken cancellationToken = default)
    {
        if (_loaded)
        {
            return;
        }
        SessionRecord? record;
        try
        {
            record = await LoadRecordAsync(cancellationToken);
        }
        catch (SessionStoreUnavailableException e)
        {
            // The failure contract: no session (never access), the credential left alone, writes refused.
            Log.LoadFailed(_manager.Logger, e.Operation, Log.ErrorType(e));
            _loadFailure = e;
            record = null;
        }
        if (_loaded)
        {
            return;
        }
        _record = record;
        _subject = record?.Subject;
        _loaded = true;
    }

    private async ValueTask<SessionRecord?> LoadRecordAsync(CancellationToken cancellationToken)
    {
        SessionRecord? record = null;
        if (_presentedCredential is not null && _credentialKind == SessionCredentialKind.AccessToken)
        {
            var result = await _manager.Tokens.GetAsync(_presentedCredential, cancellationToken);
            if (!result.Succeeded)
            {
                TokenFailure = result.Failure;
                Log.AccessTokenRejected(_manager.Logger, result.Reason);
                _manager.Metrics.Rejected("token", result.Reason);
            }
            record = result.Value;
        }
        else if (_presentedCredential is not null)
        {
            var rejection = _manager.Credentials.Verify(_presentedCredential, out var hash);
            if (rejection != CredentialRejection.None)
            {
                Log.CredentialRejected(_manager.Logger, rejection);
                _manager.Metrics.Rejected("cookie", RejectionTag(rejection));
                OnCredentialRejected(rejection);
            }
            else
            {
                record = await _manager.InstrumentedStore.LoadByCredentialAsync(hash, cancellationToken);
                if (record is not null && !record.IsActiveAt(_manager.Now()))
                {
                    record = null;
                }
                if (record is null)
                {
                    Log.NoLiveSession(_manager.Logger);
                    _manager.Metrics.Rejected("cookie", "no_live_session");
                }
            }
        }
        return record;
    }

    /// <summary>Whether a visible key exists.</summary>
    /// <param name="key">The key.</param>
    /// <returns><see langword="true"/> when the key has a value.</returns>
    public bool ContainsKey(string key)
    {
        SessionKeys.Validate(key);
        return TryGetJson(key, out _);
    }

    /// <summary>
    /// Reads a value. A missing key gives <see langword="default"/>; so does a value that no longer deserializes as
    /// <typeparamref name="T"/> (say, after an app upgrade), which also logs a warning naming the key, never the value.
    /// </summary>
    /// <typeparam name="T">The type to read as.</typeparam>
    /// <param name="key">The key.</param>
    /// <returns>The value or <see langword="default"/>.</returns>
    public T? Get<T>(string key)
    {
        SessionKeys.Validate(key);
        return TryRead<T>(key, out var value) ? value : default;
    }

    /// <summary>Reads a value through a typed key; see <see cref="Get{T}(string)"/>.</summary>
    /// <typeparam name="T">The key's type.</typeparam>
    /// <param name="key">The key.</param>
    /// <returns>The value or <see langword="default"/>.</returns>
    public T? Get<T>(SessionKey<T> key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return TryRead<T>(key.Name, out var value) ? value : default;
    }

    /// <summary>Reads a value, telling a missing or unreadable value apart from a stored default.</summary>
    /// <typeparam name="T">The type to read as.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value when found and readable.</param>
    /// <returns><see langword="true"/> when the key exists and deserializes as <typeparamref name="T"/>.</returns>
    public bool TryGet<T>(string key, [MaybeNullWhen(false)] out T value)
    {
        SessionKeys.Validate(key);
        return TryRead(key, out value);
    }

    /// <summary>Sets a value; committed with the other changes of this request. Setting <see langword="null"/> stores JSON null.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The key: 1 to 256 characters, not starting with <c>tessera:</c>.</param>
    /// <param name="value">The value, serialized now with the configured JSON options.</param>
    /// <exception cref="InvalidOperationException">The session was already committed.</exception>
    /// <exception cref="ArgumentException">
    /// The key is empty, longer than 256 characters, reserved, or holds a control character or an unpaired surrogate;
    /// or the value's JSON holds a NUL character (no store can keep those).
    /// </exception>
    /// <exception cref="SessionDataTooLargeException">The session's data would exceed <see cref="TesseraOptions.MaxDataBytes"/>; the value is not set.</exception>
    /// <exception cref="SessionStoreUnavailableException">The store failed when this session was loaded (<see cref="IsStoreUnavailable"/>).</exception>
    public void Set<T>(string key, T value)
    {
        SessionKeys.Validate(key);
        SetJson(key, Serialize(value));
    }

    /// <summary>Sets a value through a typed key; see <see cref="Set{T}(string, T)"/>.</summary>
    /// <typeparam name="T">The key's type.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    public void Set<T>(SessionKey<T> key, T value)
    {
        ArgumentNullException.ThrowIfNull(key);
        SetJson(key.Name, Serialize(value));
    }

    /// <summary>Removes a key; removing a missing key is a no-op that writes nothing.</summary>
    /// <param name="key">The key.</param>
    public void Remove(string key)
    {
        SessionKeys.Validate(key);
        RemoveKey(key);
    }

    /// <summary>Removes a typed key; see <see cref="Remove(string)"/>.</summary>
    /// <typeparam name="T">The key's type.</typeparam>
    /// <param name="key">The key.</param>
    public void Remove<T>(SessionKey<T> key)
    {
        ArgumentNullException.ThrowIfNull(key);
        RemoveKey(key.Name);
    }

    /// <summary>Removes every key, flash values included. The subject and the credential stay.</summary>
    public void Clear()
    {
        EnsureWritable();
        if (_record is null || _record.Data.Count == 0)
        {
            _changes?.Clear();
            _dataBytes = 0;
            return;
        }
        _cleared = true;
        (_changes ??= new(StringComparer.Ordinal)).Clear();
        _dataBytes = 0;
    }

    /// <summary>
    /// Sets a flash value: readable once, by a later request (reading it removes it); not visible to the request that set it.
    /// </summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The flash key.</param>
    /// <param name="value">The value.</param>
    /// <exception cref="SessionDataTooLargeException">The session's data would exceed <see cref="TesseraOptions.MaxDataBytes"/>; the value is not set.</exception>
    public void SetFlash<T>(string key, T value)
    {
        SessionKeys.Validate(key);
        SetJson(SessionKeys.FlashPrefix + key, Serialize(value));
    }

    /// <summary>Reads and removes a flash value set by an earlier request.</summary>
    /// <typeparam name="T">The type to read as.</typeparam>
    /// <param name="key">The flash key.</param>
    /// <returns>The value, or <see langword="default"/> when none is waiting (or it was already read).</returns>
    public T? GetFlash<T>(string key)
    {
        SessionKeys.Validate(key);
        EnsureLoaded();
        var stored = SessionKeys.FlashPrefix + key;
        if (_cleared || _record is null || !_record.Data.TryGetValue(stored, out var json))
        {
            return default;
        }
        // Tracked apart from _changes: once the flash is set again during this request, _changes holds the new value
        // and can no longer tell that the earlier one was already read.
        if (_flashesRead is not null && _flashesRead.Contains(stored))
        {
            return default; // already read during this request
        }
        var changedHere = _changes is not null && _changes.ContainsKey(stored);
        var value = Deserialize<T>(stored, json, out _);
        if (!changedHere)
        {
            RemoveKey(stored); // a flash set again during this request stays for the next one
        }
        (_flashesRead ??= new(StringComparer.Ordinal)).Add(stored);
        return value;
    }

    /// <summary>Reads a flash value without consuming it: an earlier request's, or one set during this request.</summary>
    /// <typeparam name="T">The type to read as.</typeparam>
    /// <param name="key">The flash key.</param>
    /// <returns>The value, or <see langword="default"/>.</returns>
    public T? PeekFlash<T>(string key)
    {
        SessionKeys.Validate(key);
        return TryRead<T>(SessionKeys.FlashPrefix + key, out var value) ? value : default;
    }

    /// <summary>
    /// Issues a new credential for this session at commit, keeping its id and data; the old credential stops working
    /// at once. A session not stored yet gets a fresh credential anyway, so this is a no-op for it.
    /// </summary>
    public void Regenerate()
    {
        EnsureWritable();
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
        ArgumentException.ThrowIfNullOrWhiteSpace(subject);
        if (subject.Length > 256)
        {
            throw new ArgumentException("A subject must be at most 256 characters long.", nameof(subject));
        }
        EnsureWritable();
        if (_subject is not null && !string.Equals(_subject, subject, StringComparison.Ordinal))
        {
            Clear();
        }
        _subject = subject;
        _subjectChanged = true;
        _regenerate = true;
    }

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
        _cleared = false;
        _changes = null;
        _pendingId = null;
        _dataBytes = -1;
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
    public async ValueTask<SessionCommitResult> CommitAsync(CancellationToken cancellationToken = default)
    {
        if (_committed is { } done)
        {
            return done;
        }
        if (!_loaded)
        {
            _committed = SessionCommitResult.Unchanged;
            return SessionCommitResult.Unchanged;
        }
        var result = SessionCommitResult.Unchanged;
        var now = _manager.Now();
        var store = _manager.InstrumentedStore;
        if (_destroyed is { } destroyed)
        {
            await _manager.Revoker.RevokeAsync(destroyed.Id, destroyed, SessionRevocationReason.SignOut, cancellationToken);
            result = SessionCommitResult.Cleared;
        }
        if (_record is { } record)
        {
            result = await CommitExistingAsync(record, now, store, cancellationToken);
        }
        else if (HasDataToKeep() || _subject is not null)
        {
            result = await CreateAsync(now, store, cancellationToken);
        }
        _committed = result;
        return result;
    }

    /// <summary>
    /// Metadata to record when this view creates a session. The base returns what was given to the constructor;
    /// transports override it to read the request lazily.
    /// </summary>
    /// <returns>The metadata.</returns>
    protected virtual SessionMetadata CaptureMetadata() => _metadata ?? SessionMetadata.Empty;

    /// <summary>Called once when the presented credential is rejected; transports may count or react.</summary>
    /// <param name="rejection">Why it was rejected.</param>
    protected virtual void OnCredentialRejected(CredentialRejection rejection)
    {
    }

    private async ValueTask<SessionCommitResult> CommitExistingAsync(SessionRecord record, DateTimeOffset now, InstrumentedStore store, CancellationToken cancellationToken)
    {
        var options = _manager.Options;
        // Extending never shortens: a token session's idle deadline follows its refresh token and may lie further out.
        // The subject after this commit decides the timeout: signing in moves the session onto the longer one at once.
        var idle = Max(record.IdleExpiresAt, Min(now + options.IdleTimeoutFor(_subject), record.AbsoluteExpiresAt));
        var writes = _changes is { Count: > 0 } || _cleared || _subjectChanged || _regenerate;
        if (!writes)
        {
            if (now - record.LastSeenAt >= options.TouchInterval)
            {
                try
                {
                    if (await store.TouchAsync(record.Id, now, idle, cancellationToken))
                    {
                        CommittedDeadlines = (idle, record.AbsoluteExpiresAt);
                    }
                }
                catch (SessionStoreUnavailableException e) when (_destroyed is null)
                {
                    // A read-only request's answer does not depend on the touch: serve it, and let a later request
                    // extend the deadline (the session can only end sooner than it would have, never later).
                    Log.TouchFailed(_manager.Logger, Log.Ref(record.Id), Log.ErrorType(e));
                }
            }
            return _destroyed is null ? SessionCommitResult.Unchanged : SessionCommitResult.Cleared;
        }
        var credential = _regenerate ? _manager.Credentials.Issue() : null;
        var patch = BuildPatch(credential, now, idle);
        if (!await store.ApplyAsync(record.Id, patch, cancellationToken))
        {
            // Revoked or expired by someone else while this request ran: never resurrect it.
            Log.SessionVanished(_manager.Logger, Log.Ref(record.Id));
            return SessionCommitResult.Cleared;
        }
        CommittedDeadlines = (idle, record.AbsoluteExpiresAt);
        if (_subjectChanged && _subject is not null)
        {
            if (!await _manager.SessionLimit.EnforceOrRevokeAsync(_subject, record.Id, record.Metadata, cancellationToken))
            {
                return RefuseSignIn();
            }
            await RaiseSignedInAsync(record.Id, record.Subject, now, record.Metadata);
        }
        return credential is null
            ? SessionCommitResult.Unchanged
            : new SessionCommitResult(CredentialChange.Issue, credential.Value, record.AbsoluteExpiresAt, record.Id);
    }

    private async ValueTask<SessionCommitResult> CreateAsync(DateTimeOffset now, InstrumentedStore store, CancellationToken cancellationToken)
    {
        var options = _manager.Options;
        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        if (_changes is not null)
        {
            foreach (var (key, value) in _changes)
            {
                if (value is not null)
                {
                    data[key] = value;
                }
            }
        }
        var absolute = now + options.AbsoluteLifetime;
        var metadata = options.Metadata.Apply(CaptureMetadata());
        for (var attempt = 0; ; attempt++)
        {
            var credential = _manager.Credentials.Issue();
            var record = new SessionRecord
            {
                Id = _pendingId ??= SessionIds.NewId(),
                CredentialHash = credential.Hash,
                Subject = _subject,
                Data = data,
                CreatedAt = now,
                LastSeenAt = now,
                IdleExpiresAt = Min(now + options.IdleTimeoutFor(_subject), absolute),
                AbsoluteExpiresAt = absolute,
                Metadata = metadata,
            };
            if (await store.CreateAsync(record, cancellationToken))
            {
                CommittedDeadlines = (record.IdleExpiresAt, absolute);
                Log.SessionCreated(_manager.Logger, Log.Ref(record.Id));
                await _manager.Reporter.CreatedAsync(new SessionCreatedEvent(record.Id, record.Subject, _credentialKind, now, metadata));
                if (_subject is not null)
                {
                    if (!await _manager.SessionLimit.EnforceOrRevokeAsync(_subject, record.Id, metadata, cancellationToken))
                    {
                        return RefuseSignIn();
                    }
                    await RaiseSignedInAsync(record.Id, null, now, metadata);
                }
                return new SessionCommitResult(CredentialChange.Issue, credential.Value, absolute, record.Id);
            }
            if (attempt >= 2)
            {
                throw new InvalidOperationException("Could not create a session: three random ids collided, which points at a broken random source or store.");
            }
            _pendingId = null;
        }
    }

    // The session limit revoked this request's session: it ends anonymous, and the client's credential is cleared.
    private SessionCommitResult RefuseSignIn()
    {
        SignInRefused = true;
        _subject = null;
        _subjectChanged = false;
        return SessionCommitResult.Cleared;
    }

    private ValueTask RaiseSignedInAsync(string id, string? previousSubject, DateTimeOffset now, SessionMetadata metadata) =>
        _manager.Reporter.SignedInAsync(new SessionSignedInEvent(id, _subject!, previousSubject, _credentialKind, now, metadata));

    /// <summary>The stable <c>reason</c> tag of a cookie rejection.</summary>
    internal static string RejectionTag(CredentialRejection rejection) => rejection switch
    {
        CredentialRejection.Empty => "empty",
        CredentialRejection.TooLong => "too_long",
        CredentialRejection.Malformed => "malformed",
        CredentialRejection.BadSignature => "bad_signature",
        _ => "other",
    };

    private SessionPatch BuildPatch(IssuedCredential? credential, DateTimeOffset now, DateTimeOffset idle)
    {
        Dictionary<string, string>? set = null;
        List<string>? removed = null;
        if (_changes is not null)
        {
            foreach (var (key, value) in _changes)
            {
                if (value is null)
                {
                    (removed ??= []).Add(key);
                }
                else
                {
                    (set ??= new(StringComparer.Ordinal))[key] = value;
                }
            }
        }
        return new SessionPatch
        {
            ClearData = _cleared,
            Set = set ?? SessionRecord.EmptyData,
            Removed = (IReadOnlyCollection<string>?)removed ?? [],
            SubjectChanged = _subjectChanged,
            Subject = _subject,
            NewCredentialHash = credential?.Hash,
            LastSeenAt = now,
            IdleExpiresAt = idle,
        };
    }

    private bool HasDataToKeep()
    {
        if (_changes is null)
        {
            return false;
        }
        foreach (var value in _changes.Values)
        {
            if (value is not null)
            {
                return true;
            }
        }
        return false;
    }

    private bool TryRead<T>(string key, [MaybeNullWhen(false)] out T value)
    {
        if (!TryGetJson(key, out var json))
        {
            value = default;
            return false;
        }
        value = Deserialize<T>(key, json, out var ok)!;
        return ok;
    }

    private T? Deserialize<T>(string key, string json, out bool ok)
    {
        try
        {
            ok = true;
            return JsonSerializer.Deserialize<T>(json, _manager.Options.JsonSerializerOptions);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
            Log.ValueUnreadable(_manager.Logger, key, Log.Ref(_record?.Id), typeof(T).Name, e);
            ok = false;
            return default;
        }
    }

    private bool TryGetJson(string key, [NotNullWhen(true)] out string? json)
    {
        EnsureLoaded();
        if (_changes is not null && _changes.TryGetValue(key, out var changed))
        {
            json = changed;
            return json is not null;
        }
        json = null;
        return !_cleared && _record is not null && _record.Data.TryGetValue(key, out json);
    }

    private void SetJson(string key, string json)
    {
        EnsureWritable();
        TrackDataSize(key, json);
        if (!_cleared && _record is not null && _record.Data.TryGetValue(key, out var stored) && string.Equals(stored, json, StringComparison.Ordinal))
        {
            // Writing back what is stored is not a change: nothing to commit for this key.
            _changes?.Remove(key);
            return;
        }
        (_changes ??= new(StringComparer.Ordinal))[key] = json;
    }

    private void RemoveKey(string key)
    {
        EnsureWritable();
        TrackDataSize(key, null);
        var stored = !_cleared && _record is not null && _record.Data.ContainsKey(key);
        if (stored)
        {
            (_changes ??= new(StringComparer.Ordinal))[key] = null;
        }
        else
        {
            _changes?.Remove(key);
        }
    }

    // Keeps the size of the visible data (keys and JSON values in UTF-8, flash values included) against
    // TesseraOptions.MaxDataBytes, counted once from the stored data on the first write and then per change, so the
    // limit costs nothing for a request that writes nothing. A change that would grow the data past the limit is refused
    // before it is made; shrinking is always allowed, even above a lowered limit.
    private void TrackDataSize(string key, string? json)
    {
        if (_manager.Options.MaxDataBytes is not { } limit)
        {
            return;
        }
        if (_dataBytes < 0)
        {
            _dataBytes = VisibleDataBytes();
        }
        var before = TryGetJson(key, out var old) ? SessionKeys.EntryBytes(key, old) : 0;
        var after = json is null ? 0 : SessionKeys.EntryBytes(key, json);
        var next = _dataBytes - before + after;
        if (after > before && next > limit)
        {
            throw new SessionDataTooLargeException(key, next, limit);
        }
        _dataBytes = next;
    }

    private long VisibleDataBytes()
    {
        long total = 0;
        if (!_cleared && _record is not null)
        {
            foreach (var (key, value) in _record.Data)
            {
                if (_changes is null || !_changes.ContainsKey(key))
                {
                    total += SessionKeys.EntryBytes(key, value);
                }
            }
        }
        if (_changes is not null)
        {
            foreach (var (key, value) in _changes)
            {
                if (value is not null)
                {
                    total += SessionKeys.EntryBytes(key, value);
                }
            }
        }
        return total;
    }

    private string Serialize<T>(T value)
    {
        var json = JsonSerializer.Serialize(value, _manager.Options.JsonSerializerOptions);
        SessionKeys.ValidateValue(json, nameof(value));
        return json;
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
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
}
