using System.Buffers;
using System.Buffers.Text;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Tessera.AspNetCore.CookieStore;

/// <summary>
/// A store that keeps each session in the client: the session record is serialized compactly, encrypted with
/// AES-256-GCM under keys derived from <see cref="TesseraOptions.Keys"/>, bound to the session's credential, and carried
/// in chunk cookies <c>&lt;session cookie name&gt;.0</c>, <c>.1</c>, ... next to the signed credential cookie, which
/// stays as it is. There is no store to run, and no server-side state unless
/// <see cref="CookieSessionStoreOptions.RevocationStore"/> is set.
/// </summary>
/// <remarks>
/// <para>
/// It reaches the request's cookies through <see cref="IHttpContextAccessor"/>: a load decrypts the chunks the request
/// carried; a write (create, apply, touch, revoke, delete) seals the new record and sets the chunk cookies on the
/// response, which the middleware commits before the response starts, deleting the chunks the request carried beyond the
/// new count. A write that would need more than <see cref="CookieSessionStoreOptions.MaxChunks"/> cookies throws
/// <see cref="SessionDataTooLargeException"/> and writes nothing (the middleware answers 413). Chunks that do not decrypt
/// (tampered, missing, reordered, mixed from two writes, under a removed key, or for another credential) are no session.
/// </para>
/// <para>
/// What it cannot do: the server does not know the sessions, so it cannot list a user's sessions, count them, or end a
/// session it does not see. A copy of the cookies stays valid until the session expires; signing out deletes the cookies
/// in that browser only; and a client can restore any earlier state of its own session by sending cookies it saved
/// earlier. With a revocation store, signing out, destroying, regenerating and revoking by id end the old cookies
/// everywhere, and every write seals a new version there, so cookies a later write replaced are refused after
/// <see cref="CookieSessionStoreOptions.ReplacedCookieGraceWindow"/>: for one read of that store per request that
/// loads a session, and one read and one write per cookie write.
/// </para>
/// <para>
/// Outside a request <see cref="LoadAsync"/> finds nothing (so the store health check passes; with a revocation store it
/// probes that store) and every other call throws <see cref="InvalidOperationException"/>, except, with a revocation
/// store, <see cref="RevokeAsync"/> and <see cref="DeleteAsync"/> (which record the revocation). Load by id finds only
/// the session of the current request.
/// </para>
/// </remarks>
public sealed partial class CookieSessionStore : ISessionStore, ISessionStoreCleanup, IAsyncDisposable, IDisposable
{
    private readonly IHttpContextAccessor _accessor;
    private readonly TimeProvider _time;
    private readonly int _maxChunks;
    private readonly CookieRevocationList? _revocations;
    private readonly TimeSpan _absoluteLifetime;
    private readonly ILogger _logger;
    private readonly object _stateKey = new();

    /// <summary>Creates the store; <c>UseCookieStore()</c> does this for an application.</summary>
    /// <param name="accessor">Reaches the current request (register it with <c>services.AddHttpContextAccessor()</c>).</param>
    /// <param name="options">The options; <see langword="null"/> keeps the defaults (4 chunks, no revocation store).</param>
    /// <param name="timeProvider">The clock; <see langword="null"/> is <see cref="TimeProvider.System"/>. Use the application's.</param>
    /// <param name="tesseraOptions">
    /// The session options, for how long a revocation of a session the store cannot see is kept (the absolute
    /// lifetime); <see langword="null"/> uses <see cref="TesseraDefaults.AbsoluteLifetime"/>. Inside a request the
    /// request's own options are used.
    /// </param>
    /// <param name="logger">Logs why a cookie session did not load, at Debug; <see langword="null"/> logs nothing.</param>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="CookieSessionStoreOptions.MaxChunks"/> or <see cref="CookieSessionStoreOptions.ReplacedCookieGraceWindow"/> is out of range.</exception>
    /// <exception cref="ArgumentException">The revocation store is itself a cookie store.</exception>
    public CookieSessionStore(
        IHttpContextAccessor accessor,
        CookieSessionStoreOptions? options = null,
        TimeProvider? timeProvider = null,
        IOptions<TesseraOptions>? tesseraOptions = null,
        ILogger<CookieSessionStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(accessor);
        options ??= new CookieSessionStoreOptions();
        options.Validate();
        _accessor = accessor;
        _time = timeProvider ?? TimeProvider.System;
        _maxChunks = options.MaxChunks;
        _revocations = options.RevocationStore is { } revocationStore ? new CookieRevocationList(revocationStore, _time, options.ReplacedCookieGraceWindow) : null;
        _absoluteLifetime = tesseraOptions?.Value.AbsoluteLifetime ?? TesseraDefaults.AbsoluteLifetime;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>The most chunk cookies one session may take (<see cref="CookieSessionStoreOptions.MaxChunks"/>).</summary>
    public int MaxChunks => _maxChunks;

    /// <summary>The revocation store, or <see langword="null"/> when the store is stateless.</summary>
    public ISessionStore? RevocationStore => _revocations?.Store;

    /// <inheritdoc />
    /// <remarks>
    /// Sets the session's chunk cookies on the current response. <see langword="false"/> only when the current request
    /// already holds a session with that id or credential hash.
    /// </remarks>
    /// <exception cref="SessionDataTooLargeException">The session would need more than <see cref="MaxChunks"/> cookies; nothing is written.</exception>
    /// <exception cref="InvalidOperationException">There is no current request, or its response has started.</exception>
    public async ValueTask<bool> CreateAsync(SessionRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.RevokedAt is not null)
        {
            throw new ArgumentException("A new session cannot be revoked already.", nameof(record));
        }
        var state = CurrentState();
        if (state.Record is { } held && (string.Equals(held.Id, record.Id, StringComparison.Ordinal) || held.CredentialHash.AsSpan().SequenceEqual(record.CredentialHash)))
        {
            return false;
        }
        var stored = record with { Data = new Dictionary<string, string>(record.Data, StringComparer.Ordinal) };
        Write(state, stored, await SealAsync(state, stored, baseVersion: null, newCredentialHash: null, cancellationToken).ConfigureAwait(false));
        return true;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Finds only the session of the current request. Outside a request there are no cookies to find one in, so it finds
    /// nothing; with a revocation store it reads that store once first, so a health probe
    /// (<see cref="TesseraStoreHealthCheck"/>) reaches the one part that lives on a server.
    /// </remarks>
    public ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (_accessor.HttpContext is null)
        {
            return _revocations is null ? ValueTask.FromResult<SessionRecord?>(null) : ProbeRevocationsAsync(id, cancellationToken);
        }
        var state = CurrentState();
        return ValueTask.FromResult(state.Record is { } record && string.Equals(record.Id, id, StringComparison.Ordinal) && record.IsActiveAt(_time.GetUtcNow()) ? record : null);
    }

    private async ValueTask<SessionRecord?> ProbeRevocationsAsync(string id, CancellationToken cancellationToken)
    {
        _ = await _revocations!.Store.LoadAsync(id, cancellationToken).ConfigureAwait(false);
        return null;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Decrypts the chunk cookies the current request carried, bound to <paramref name="credentialHash"/>; with a
    /// revocation store, then reads it once, and finds nothing when the session was ended, its credential replaced, or
    /// these cookies replaced by a later write more than <see cref="CookieSessionStoreOptions.ReplacedCookieGraceWindow"/>
    /// ago (a replayed older copy).
    /// </remarks>
    public ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken = default)
    {
        var state = CurrentState();
        var now = _time.GetUtcNow();
        if (state.Record is { } held && held.CredentialHash.AsSpan().SequenceEqual(credentialHash.Span))
        {
            return ValueTask.FromResult(held.IsActiveAt(now) ? held : null);
        }
        if (state.Opened || credentialHash.Length != 32)
        {
            return ValueTask.FromResult<SessionRecord?>(null);
        }
        state.Opened = true;
        var record = Open(state, credentialHash.Span, out var version);
        if (record is null || !record.IsActiveAt(now))
        {
            return ValueTask.FromResult<SessionRecord?>(null);
        }
        return _revocations is null ? ValueTask.FromResult<SessionRecord?>(Hold(state, record, version)) : CheckRevocationAsync(state, record, version, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Applies the patch to the current request's session and sets its chunk cookies. With a revocation store, the write
    /// (and a new credential hash, so that the old cookies die everywhere) is recorded there first.
    /// </remarks>
    /// <exception cref="SessionDataTooLargeException">The session would need more than <see cref="MaxChunks"/> cookies; nothing is written.</exception>
    public async ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(patch);
        var state = CurrentState();
        if (Held(state, id) is not { } current)
        {
            return false;
        }
        var updated = patch.ApplyTo(current);
        Write(state, updated, await SealAsync(state, updated, state.Version, patch.NewCredentialHash, cancellationToken).ConfigureAwait(false));
        return true;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Re-seals the current request's session with the new times (under the current key) and sets its chunk cookies;
    /// with a revocation store, a touch is a write like any other there (it seals a new version).
    /// </remarks>
    public async ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        var state = CurrentState();
        if (Held(state, id) is not { } current)
        {
            return false;
        }
        var updated = current with { LastSeenAt = lastSeenAt, IdleExpiresAt = idleExpiresAt };
        Write(state, updated, await SealAsync(state, updated, state.Version, newCredentialHash: null, cancellationToken).ConfigureAwait(false));
        return true;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Deletes the chunk cookies when the session is the current request's; with a revocation store, also records the
    /// revocation there, which ends every copy of the cookies (and works outside a request). Without one, a session
    /// that is not the current request's cannot be reached: <see langword="false"/>.
    /// </remarks>
    /// <exception cref="InvalidOperationException">There is no current request and no revocation store.</exception>
    public ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default) =>
        EndAsync(id, cancellationToken);

    /// <inheritdoc />
    /// <remarks>The same as <see cref="RevokeAsync"/>: a session in a cookie can only be ended, not erased from copies.</remarks>
    /// <exception cref="InvalidOperationException">There is no current request and no revocation store.</exception>
    public ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken = default) =>
        EndAsync(id, cancellationToken);

    /// <inheritdoc />
    /// <remarks>Removes expired entries of the revocation store; 0 without one (or when it cannot clean up).</remarks>
    public ValueTask<int> DeleteExpiredAsync(int batchSize, CancellationToken cancellationToken = default) =>
        _revocations?.Store is ISessionStoreCleanup cleanup ? cleanup.DeleteExpiredAsync(batchSize, cancellationToken) : ValueTask.FromResult(0);

    /// <inheritdoc />
    /// <remarks>Passed to the revocation store; 0 without one. The revocation list itself never revokes records.</remarks>
    public ValueTask<int> DeleteRevokedAsync(DateTimeOffset revokedBefore, int batchSize, CancellationToken cancellationToken = default) =>
        _revocations?.Store is ISessionStoreCleanup cleanup ? cleanup.DeleteRevokedAsync(revokedBefore, batchSize, cancellationToken) : ValueTask.FromResult(0);

    /// <summary>Disposes the revocation store, if any and if disposable: the cookie store owns it.</summary>
    /// <returns>A task.</returns>
    public async ValueTask DisposeAsync()
    {
        switch (_revocations?.Store)
        {
            case IAsyncDisposable asyncDisposable:
                await asyncDisposable.DisposeAsync().ConfigureAwait(false);
                break;
            case IDisposable disposable:
                disposable.Dispose();
                break;
        }
    }

    /// <summary>Disposes the revocation store, if any and if disposable, synchronously: the cookie store owns it.</summary>
    public void Dispose()
    {
        switch (_revocations?.Store)
        {
            case IDisposable disposable:
                disposable.Dispose();
                break;
            case IAsyncDisposable asyncDisposable:
                asyncDisposable.DisposeAsync().AsTask().GetAwaiter().GetResult();
                break;
        }
    }

    private async ValueTask<bool> EndAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        var context = _accessor.HttpContext;
        RequestState? state = null;
        SessionRecord? current = null;
        if (context is not null || _revocations is null)
        {
            state = CurrentState();
            current = Held(state, id);
        }
        var listed = _revocations is not null
            && await _revocations.RevokeAsync(id, current?.AbsoluteExpiresAt ?? _time.GetUtcNow() + (state?.AbsoluteLifetime ?? _absoluteLifetime), cancellationToken).ConfigureAwait(false);
        if (state is null || current is null)
        {
            return listed;
        }
        Write(state, null, new SealedChunks(CookieChunks.Template(state.Context.Request, state.CookieOptions, null), [], 0));
        return true;
    }

    private async ValueTask<SessionRecord?> CheckRevocationAsync(RequestState state, SessionRecord record, long version, CancellationToken cancellationToken)
    {
        if (await _revocations!.RefusalAsync(record, version, cancellationToken).ConfigureAwait(false) is { } reason)
        {
            // The chunks stay where they are: a request racing a write may see them replaced, and deleting them here
            // could delete the newer ones that write's response sets in the browser.
            Log.Refused(_logger, reason);
            return null;
        }
        return Hold(state, record, version);
    }

    private static SessionRecord Hold(RequestState state, SessionRecord record, long version)
    {
        state.Record = record;
        state.Version = version;
        return record;
    }

    private SessionRecord? Held(RequestState state, string id) =>
        state.Record is { } record && string.Equals(record.Id, id, StringComparison.Ordinal) && record.IsActiveAt(_time.GetUtcNow()) ? record : null;

    private SessionRecord? Open(RequestState state, ReadOnlySpan<byte> credentialHash, out long version)
    {
        version = 0;
        if (state.Chunks.Text is not { } text)
        {
            if (state.Chunks.Indices != 0)
            {
                Log.Refused(_logger, "incomplete");
            }
            return null;
        }
        var maxBytes = Base64Url.GetMaxDecodedLength(text.Length);
        var rented = ArrayPool<byte>.Shared.Rent(maxBytes);
        byte[]? plaintext = null;
        try
        {
            if (Base64Url.DecodeFromChars(text, rented, out var consumed, out var written) != OperationStatus.Done || consumed != text.Length)
            {
                Log.Refused(_logger, "not_base64url");
                return null;
            }
            plaintext = state.Keys.Open(rented.AsSpan(0, written), credentialHash);
            if (plaintext is null)
            {
                Log.Refused(_logger, "unreadable");
                return null;
            }
            var record = CookieRecordCodec.Read(plaintext, credentialHash.ToArray(), out version);
            if (record is null)
            {
                Log.Refused(_logger, "malformed");
            }
            return record;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented, clearArray: true);
            if (plaintext is not null)
            {
                Array.Clear(plaintext);
            }
        }
    }

    /// <summary>
    /// Seals a record into chunk values. The size is checked first, so a session too large throws
    /// <see cref="SessionDataTooLargeException"/> before anything is recorded anywhere; with a revocation store the
    /// write is then recorded there (starting from <paramref name="baseVersion"/>, with the new credential if any) and
    /// sealed with the version it gets.
    /// </summary>
    private async ValueTask<SealedChunks> SealAsync(RequestState state, SessionRecord record, long? baseVersion, byte[]? newCredentialHash, CancellationToken cancellationToken)
    {
        EnsureResponseNotStarted(state);
        var plaintext = new ArrayBufferWriter<byte>(512);
        try
        {
            CookieRecordCodec.Write(record, versioned: _revocations is not null, plaintext);
            var template = CookieChunks.Template(state.Context.Request, state.CookieOptions, record.AbsoluteExpiresAt);
            var textLength = Base64Url.GetEncodedLength(CookieEncryptionKeys.OverheadBytes + plaintext.WrittenCount);
            if (CookieChunks.Lengths(textLength, state.CookieName, template, _maxChunks) is null)
            {
                var room = CookieChunks.Room(state.CookieName, template);
                var needed = room <= 0 ? int.MaxValue : (textLength + room - 1) / room;
                throw new SessionDataTooLargeException(
                    $"The session would need {needed} cookies of at most {CookieChunks.MaxSetCookieBytes} bytes ({textLength} characters of encrypted cookie text); the cookie store allows {_maxChunks} (CookieSessionStoreOptions.MaxChunks). Keep less in the session, or use a server-side store.");
            }
            long version = 0;
            if (_revocations is not null)
            {
                CookieChunks.EnsureNotStarted(state.Context.Response);
                version = await _revocations.RecordWriteAsync(record.Id, baseVersion, newCredentialHash, record.AbsoluteExpiresAt, cancellationToken).ConfigureAwait(false);
                // The version has a fixed width and place, so filling it in changes no size checked above.
                CookieRecordCodec.SetVersion(MemoryMarshal.AsMemory(plaintext.WrittenMemory).Span, version);
            }
            var text = Base64Url.EncodeToString(state.Keys.Seal(plaintext.WrittenSpan, record.CredentialHash));
            return new SealedChunks(template, CookieChunks.Split(text, state.CookieName, template, _maxChunks)!, version);
        }
        finally
        {
            plaintext.Clear();
        }
    }

    private static void Write(RequestState state, SessionRecord? record, SealedChunks chunks)
    {
        EnsureResponseNotStarted(state);
        state.Written = CookieChunks.Write(state.Context.Response, state.CookieName, chunks.Template, chunks.Values, state.Chunks.Indices, state.Written);
        state.Record = record;
        state.Version = chunks.Version;
    }

    // A SignalR hub invocation runs on its connection's request, whose response (the WebSocket) started long ago.
    private static void EnsureResponseNotStarted(RequestState state)
    {
        if (state.Context.Response.HasStarted)
        {
            throw new SessionWriteRefusedException(TesseraHubSessionFilter.CookieStoreMessage);
        }
    }

    private RequestState CurrentState()
    {
        var context = _accessor.HttpContext ?? throw new InvalidOperationException(
            "The cookie session store keeps sessions in the request's cookies, so it works only during an HTTP request, and found none "
            + "(through IHttpContextAccessor: UseCookieStore() registers it). Outside a request, only revoking or deleting by id works, and only with a RevocationStore.");
        if (context.Items.TryGetValue(_stateKey, out var existing) && existing is RequestState state)
        {
            return state;
        }
        var services = context.RequestServices;
        var transport = services.GetService<CookieSessionTransport>() ?? throw new InvalidOperationException(
            "The cookie session store needs Tessera's cookie transport: call services.AddTessera().UseCookieStore().");
        var manager = services.GetRequiredService<SessionManager>();
        var cookieOptions = services.GetRequiredService<IOptions<TesseraCookieOptions>>().Value;
        state = new RequestState(context, transport.CookieName, cookieOptions, CookieEncryptionKeys.For(manager.Keys), manager.Options.AbsoluteLifetime)
        {
            Chunks = CookieChunks.Read(context.Request, transport.CookieName),
        };
        context.Items[_stateKey] = state;
        return state;
    }

    private readonly record struct SealedChunks(SetCookieHeaderValue Template, IReadOnlyList<string> Values, long Version);

    /// <summary>What the store knows about the current request: its chunks, and its session as it stands now.</summary>
    private sealed class RequestState(HttpContext context, string cookieName, TesseraCookieOptions cookieOptions, CookieEncryptionKeys keys, TimeSpan absoluteLifetime)
    {
        public HttpContext Context { get; } = context;

        public string CookieName { get; } = cookieName;

        public TesseraCookieOptions CookieOptions { get; } = cookieOptions;

        public CookieEncryptionKeys Keys { get; } = keys;

        public TimeSpan AbsoluteLifetime { get; } = absoluteLifetime;

        public CookieChunks.RequestChunks Chunks { get; init; }

        /// <summary>Whether the request's chunks were decrypted (once per request at most).</summary>
        public bool Opened { get; set; }

        /// <summary>The request's session as it stands: loaded, then as written; <see langword="null"/> when none or ended.</summary>
        public SessionRecord? Record { get; set; }

        /// <summary>The write version <see cref="Record"/> was sealed with: what the next write starts from (0 without a revocation store).</summary>
        public long Version { get; set; }

        /// <summary>The <c>Set-Cookie</c> values this store added to the response so far.</summary>
        public List<string>? Written { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(2301, LogLevel.Debug, "The request's cookie session did not load ({Reason}); it has no session.")]
        public static partial void Refused(ILogger logger, string reason);
    }
}
