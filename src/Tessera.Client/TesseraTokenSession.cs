using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Tessera.Client;

/// <summary>
/// The refresh state of one signed-in token client: the current pair, at most one refresh in flight, and whether the
/// server has ended the session. One instance per API client and per process, shared by every
/// <see cref="TesseraTokenHandler"/> over it, so handlers can come and go (<c>IHttpClientFactory</c> recycles them every
/// couple of minutes) without forking it: two handlers over two states would each present the same refresh token, and
/// the second presentation would look like a stolen token to the server. <c>AddTesseraTokenHandler</c> registers it as
/// a keyed singleton, keyed by the client's name.
/// </summary>
/// <remarks>
/// After the server ends the session (<see cref="SessionEnded"/>), the state forgets the pair, stops refreshing, and
/// handlers send requests without a token (the server answers 401 where one is needed, public endpoints keep working)
/// until the app calls <see cref="SignInAsync(TesseraTokenPair, CancellationToken)"/> again.
/// </remarks>
public sealed class TesseraTokenSession
{
    private readonly Func<HttpMessageInvoker> _refreshClient;
    private readonly Uri _refreshEndpoint;
    private readonly TimeSpan _refreshMargin;
    private readonly TimeSpan _refreshTimeout;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _writes = new(1, 1);

    private TesseraTokenPair? _pair;
    private bool _loaded;
    private Task? _loading;
    private Task<TesseraTokenPair?>? _refreshing;
    private TesseraTokenPair? _refreshingFrom;
    private TesseraSessionEndedEventArgs? _ended;

    /// <summary>Creates a state that refreshes through <paramref name="refreshClient"/> (for use without dependency injection).</summary>
    /// <param name="options">The options; validated here (an invalid one throws <see cref="OptionsValidationException"/>). Read once.</param>
    /// <param name="refreshClient">
    /// Sends the refresh calls: a plain <see cref="HttpClient"/> (never one whose pipeline holds a
    /// <see cref="TesseraTokenHandler"/> over this state). Not disposed by the state.
    /// </param>
    /// <param name="store">Where the pair is kept; default a new <see cref="InMemoryTesseraTokenStore"/>.</param>
    /// <param name="timeProvider">The clock that expiry and the refresh timeout are measured on; default <see cref="TimeProvider.System"/>.</param>
    /// <param name="logger">The logger; default none.</param>
    public TesseraTokenSession(
        TesseraTokenClientOptions options,
        HttpMessageInvoker refreshClient,
        ITesseraTokenStore? store = null,
        TimeProvider? timeProvider = null,
        ILogger<TesseraTokenSession>? logger = null)
        : this(options, NotNull(refreshClient), store, timeProvider, (ILogger?)logger)
    {
    }

    internal TesseraTokenSession(TesseraTokenClientOptions options, Func<HttpMessageInvoker> refreshClient, ITesseraTokenStore? store, TimeProvider? timeProvider, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        var validation = new TesseraTokenClientOptionsValidator().Validate(null, options);
        if (validation.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(TesseraTokenClientOptions), validation.Failures);
        }
        _refreshEndpoint = options.RefreshEndpoint!;
        _refreshMargin = options.RefreshMargin;
        _refreshTimeout = options.RefreshTimeout;
        MaxBufferedBodyBytes = options.MaxBufferedBodyBytes;
        _refreshClient = refreshClient;
        Store = store ?? new InMemoryTesseraTokenStore();
        _time = timeProvider ?? TimeProvider.System;
        Logger = logger ?? NullLogger.Instance;
    }

    /// <summary>
    /// Raised once when the server refuses the refresh token (a 401 or 400 from the refresh endpoint): the session is
    /// over, and the user must sign in again. Raised on the thread that ran the refresh, after the pair was cleared from
    /// the store; an exception a handler throws is logged and swallowed. Not raised by <see cref="SignOutAsync"/>.
    /// </summary>
    public event EventHandler<TesseraSessionEndedEventArgs>? SessionEnded;

    /// <summary>The store the pair is kept in.</summary>
    public ITesseraTokenStore Store { get; }

    /// <summary>
    /// How the last session ended, or <see langword="null"/> while one is live or none was ever signed in; set before
    /// <see cref="SessionEnded"/> is raised, cleared by <see cref="SignInAsync(TesseraTokenPair, CancellationToken)"/>.
    /// </summary>
    public TesseraSessionEndedEventArgs? Ended
    {
        get
        {
            lock (_gate)
            {
                return _ended;
            }
        }
    }

    internal long MaxBufferedBodyBytes { get; }

    internal ILogger Logger { get; }

    /// <summary>
    /// Starts using <paramref name="pair"/> (after the app's sign-in): stores it, clears <see cref="Ended"/>, and makes any
    /// refresh still in flight for an older pair discard its result.
    /// </summary>
    /// <param name="pair">The pair the sign-in endpoint returned.</param>
    /// <param name="cancellationToken">Cancels the store write (the state uses the pair either way).</param>
    /// <returns>A task that completes when the pair is stored.</returns>
    public async Task SignInAsync(TesseraTokenPair pair, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pair);
        pair = WithExpiry(pair);
        lock (_gate)
        {
            _pair = pair;
            _loaded = true;
            _ended = null;
        }
        await PersistAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads the pair from a sign-in response in Tessera's shape (<c>{"accessToken","refreshToken","accessTokenExpiresAt",
    /// "refreshTokenExpiresAt"}</c>, <c>expires_in</c> also understood) and starts using it, as
    /// <see cref="SignInAsync(TesseraTokenPair, CancellationToken)"/> does. The response is not disposed.
    /// </summary>
    /// <param name="response">The sign-in endpoint's response.</param>
    /// <param name="cancellationToken">Cancels reading and storing.</param>
    /// <returns>The pair.</returns>
    /// <exception cref="HttpRequestException">The response is not a success, or holds no readable pair (its body is never quoted).</exception>
    public async Task<TesseraTokenPair> SignInAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"Sign-in failed with HTTP {(int)response.StatusCode}.", null, response.StatusCode);
        }
        var body = await ReadBodyAsync(response.Content, cancellationToken).ConfigureAwait(false);
        var pair = body is null ? null : TokenResponses.ReadPair(body, _time.GetUtcNow());
        if (pair is null)
        {
            throw new HttpRequestException("The sign-in response holds no token pair (accessToken and refreshToken strings).");
        }
        await SignInAsync(pair, cancellationToken).ConfigureAwait(false);
        return pair;
    }

    /// <summary>
    /// Forgets the pair here and in the store; requests then go out without a token. It does not revoke the session on
    /// the server: send <c>POST /api/logout</c> (Tessera's logout endpoint) through the client first for that. Raises no
    /// <see cref="SessionEnded"/>.
    /// </summary>
    /// <param name="cancellationToken">Cancels the store write.</param>
    /// <returns>A task that completes when the pair is gone from the store.</returns>
    public async Task SignOutAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _pair = null;
            _loaded = true;
        }
        await PersistAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The current pair (read from the store the first time), or <see langword="null"/> when signed out or ended.</summary>
    /// <param name="cancellationToken">Cancels waiting for the store.</param>
    /// <returns>The pair, refreshed or not.</returns>
    public async ValueTask<TesseraTokenPair?> GetPairAsync(CancellationToken cancellationToken)
    {
        Task loading;
        lock (_gate)
        {
            if (_loaded)
            {
                return _pair;
            }
            // On the thread pool: an app that blocks its UI thread on a request must not hold up the load.
            loading = _loading ??= Task.Run(LoadAsync);
        }
        await loading.WaitAsync(cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            return _pair;
        }
    }

    /// <summary>
    /// The access token to send now: the current one, or a fresh one when it expires within the margin (one refresh for
    /// all callers); null when there is no pair or the session just ended. A failed refresh leaves the current token.
    /// </summary>
    internal async ValueTask<string?> GetAccessTokenAsync(CancellationToken cancellationToken)
    {
        var pair = await GetPairAsync(cancellationToken).ConfigureAwait(false);
        if (pair is null)
        {
            return null;
        }
        if (pair.AccessTokenExpiresAt is not { } expiresAt || _time.GetUtcNow() < expiresAt - _refreshMargin)
        {
            return pair.AccessToken;
        }
        var next = await RefreshOnceAsync(pair).WaitAsync(cancellationToken).ConfigureAwait(false);
        return next?.AccessToken;
    }

    /// <summary>
    /// After the server rejected <paramref name="rejectedAccessToken"/>: a different access token to retry with (the one
    /// another request already refreshed to, or a new one), or null when there is none (no pair, the refresh failed, or
    /// the session ended).
    /// </summary>
    internal async ValueTask<string?> RefreshAfterRejectionAsync(string rejectedAccessToken, CancellationToken cancellationToken)
    {
        var pair = await GetPairAsync(cancellationToken).ConfigureAwait(false);
        if (pair is null || pair.AccessToken != rejectedAccessToken)
        {
            return pair?.AccessToken;
        }
        var next = await RefreshOnceAsync(pair).WaitAsync(cancellationToken).ConfigureAwait(false);
        return next is not null && next.AccessToken != rejectedAccessToken ? next.AccessToken : null;
    }

    /// <summary>
    /// The single flight: every caller that saw <paramref name="seen"/> shares one refresh of it. A caller that saw a pair
    /// already replaced gets the current one without a call. The refresh runs on its own timeout, not on any caller's
    /// token, so one caller giving up does not cut the others' refresh short (a refresh cut short is a rotation whose
    /// answer is lost).
    /// </summary>
    private Task<TesseraTokenPair?> RefreshOnceAsync(TesseraTokenPair seen)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(_pair, seen))
            {
                return Task.FromResult(_pair);
            }
            if (_refreshing is null || !ReferenceEquals(_refreshingFrom, seen))
            {
                _refreshingFrom = seen;
                // On the thread pool, never on the caller's synchronization context (a UI thread may be blocked on it).
                _refreshing = Task.Run(() => RefreshAsync(seen));
            }
            return _refreshing;
        }
    }

    private async Task<TesseraTokenPair?> RefreshAsync(TesseraTokenPair seen)
    {
        try
        {
            using var timeout = new CancellationTokenSource(_refreshTimeout, _time);
            using var request = new HttpRequestMessage(HttpMethod.Post, _refreshEndpoint)
            {
                Content = JsonContent.Create(new RefreshRequest(seen.RefreshToken), RefreshRequestContext.Default.RefreshRequest),
            };
            HttpResponseMessage response;
            byte[]? body;
            try
            {
                response = await _refreshClient().SendAsync(request, timeout.Token).ConfigureAwait(false);
                body = await ReadBodyAsync(response.Content, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
            {
                // The message of an HttpRequestException may quote the server; the type is enough to act on.
                Log.RefreshFailed(Logger, e is OperationCanceledException ? "timeout" : e.GetType().Name);
                return Current();
            }
            using (response)
            {
                if (response.IsSuccessStatusCode)
                {
                    return await RotateAsync(seen, body, timeout.Token).ConfigureAwait(false);
                }
                if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.BadRequest)
                {
                    var reason = (body is null ? null : TokenResponses.ReadProblemReason(body))
                        ?? (TokenResponses.IsInvalidTokenChallenge(response.Headers.WwwAuthenticate, out var description) ? description : null);
                    return await EndAsync(seen, reason, (int)response.StatusCode).ConfigureAwait(false);
                }
                Log.RefreshFailedStatus(Logger, (int)response.StatusCode);
                return Current();
            }
        }
        finally
        {
            lock (_gate)
            {
                if (ReferenceEquals(_refreshingFrom, seen))
                {
                    _refreshing = null;
                    _refreshingFrom = null;
                }
            }
        }
    }

    private async Task<TesseraTokenPair?> RotateAsync(TesseraTokenPair seen, byte[]? body, CancellationToken cancellationToken)
    {
        var next = body is null ? null : TokenResponses.ReadPair(body, _time.GetUtcNow());
        if (next is null)
        {
            Log.UnreadablePair(Logger);
            return Current();
        }
        next = WithExpiry(next);
        lock (_gate)
        {
            if (!ReferenceEquals(_pair, seen))
            {
                // Signed in (or out) while the refresh was in flight: the app's newer choice wins.
                return _pair;
            }
            _pair = next;
        }
        Log.Refreshed(Logger, TokenHash.Of(seen.RefreshToken), TokenHash.Of(next.RefreshToken));
        // The old refresh token is dead on the server: a store that fails must not cost the new pair held in memory.
        await TryPersistAsync(cancellationToken).ConfigureAwait(false);
        return next;
    }

    private async Task<TesseraTokenPair?> EndAsync(TesseraTokenPair seen, string? serverReason, int statusCode)
    {
        var ended = new TesseraSessionEndedEventArgs(ReasonOf(serverReason), serverReason, statusCode, _time.GetUtcNow());
        lock (_gate)
        {
            if (!ReferenceEquals(_pair, seen))
            {
                return _pair;
            }
            _pair = null;
            _ended = ended;
        }
        Log.SessionEnded(Logger, ended.Reason, serverReason ?? "(none)", statusCode);
        // The pair is dead on the server; a store that cannot forget it must not hide the end from the app.
        await TryPersistAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            SessionEnded?.Invoke(this, ended);
        }
#pragma warning disable CA1031 // An app's handler failing must not turn into a failed request.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log.SessionEndedHandlerFailed(Logger, e);
        }
        return null;
    }

    /// <summary>
    /// Writes the state as it is now (the current pair, or none) to the store, one write at a time: a sign-in racing a
    /// rotation cannot leave the store holding the pair the state has already replaced.
    /// </summary>
    private async Task PersistAsync(CancellationToken cancellationToken)
    {
        await _writes.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Current() is { } pair)
            {
                await Store.SaveAsync(pair, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await Store.ClearAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _writes.Release();
        }
    }

    private async Task TryPersistAsync(CancellationToken cancellationToken)
    {
        try
        {
            await PersistAsync(cancellationToken).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Logged: the state in memory is right, and the next write stores it.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log.SaveFailed(Logger, e);
        }
    }

    private static TesseraSessionEndReason ReasonOf(string? serverReason) => serverReason switch
    {
        "refresh_token_reused" => TesseraSessionEndReason.RefreshTokenReused,
        "revoked_token" => TesseraSessionEndReason.Revoked,
        "expired_token" => TesseraSessionEndReason.Expired,
        "invalid_session" => TesseraSessionEndReason.SessionGone,
        _ => TesseraSessionEndReason.Rejected,
    };

    private TesseraTokenPair? Current()
    {
        lock (_gate)
        {
            return _pair;
        }
    }

    private async Task LoadAsync()
    {
        try
        {
            var stored = await Store.LoadAsync(CancellationToken.None).ConfigureAwait(false);
            lock (_gate)
            {
                if (!_loaded)
                {
                    _pair = stored is null ? null : WithExpiry(stored);
                    _loaded = true;
                }
            }
        }
        finally
        {
            // A failed load is tried again by the next caller.
            lock (_gate)
            {
                _loading = null;
            }
        }
    }

    private static TesseraTokenPair WithExpiry(TesseraTokenPair pair) =>
        pair.AccessTokenExpiresAt is null && TokenResponses.JwtExpiry(pair.AccessToken) is { } expiry ? pair with { AccessTokenExpiresAt = expiry } : pair;

    /// <summary>The body, or null when it is larger than <see cref="TokenResponses.MaxResponseBytes"/>.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpContent content, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > TokenResponses.MaxResponseBytes)
        {
            return null;
        }
        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            var chunk = new byte[8192];
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > TokenResponses.MaxResponseBytes)
                {
                    return null;
                }
                buffer.Write(chunk, 0, read);
            }
            return buffer.ToArray();
        }
    }

    private static Func<HttpMessageInvoker> NotNull(HttpMessageInvoker refreshClient)
    {
        ArgumentNullException.ThrowIfNull(refreshClient);
        return () => refreshClient;
    }
}

/// <summary>The refresh endpoint's body. A class, not a record: a record's ToString would print the token.</summary>
internal sealed class RefreshRequest(string refreshToken)
{
    public string RefreshToken { get; } = refreshToken;
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(RefreshRequest))]
internal sealed partial class RefreshRequestContext : System.Text.Json.Serialization.JsonSerializerContext;
