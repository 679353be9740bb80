using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace Tessera.Client;

/// <summary>
/// A <see cref="DelegatingHandler"/> that sends every request with <c>Authorization: Bearer &lt;access token&gt;</c> from
/// its <see cref="TesseraTokenSession"/>, refreshing the pair first when the access token expires within the margin, and
/// once more after a <c>401</c> whose <c>WWW-Authenticate</c> says <c>error="invalid_token"</c>, then retrying the request
/// once. Handlers are cheap and may be many (one per <c>IHttpClientFactory</c> handler rotation): all the state is in
/// the session.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>A request that already has an <c>Authorization</c> header is sent as is, never refreshed for, never retried.</item>
/// <item>Without a pair (never signed in, signed out, or ended by the server) requests go out without a token.</item>
/// <item>The retry is a copy of the request (method, address, headers, options, version, body) with the new token.
/// Bodies of <see cref="ByteArrayContent"/> (strings, forms), <see cref="ReadOnlyMemoryContent"/> and
/// <see cref="JsonContent"/> are produced again from their source; any other body (a <see cref="StreamContent"/>,
/// multipart) is buffered in memory before the first send when its length is known and at most
/// <see cref="TesseraTokenClientOptions.MaxBufferedBodyBytes"/>. A body of unknown length, such as a stream that cannot
/// seek, is sent once as is and never buffered: after its 401 the pair is still refreshed, but the 401 is returned to
/// the caller, who may send the request again.</item>
/// <item>At most one retry: a second 401 is returned as it is.</item>
/// </list>
/// </remarks>
public sealed class TesseraTokenHandler : DelegatingHandler
{
    /// <summary>Creates a handler over <paramref name="session"/>; set <see cref="DelegatingHandler.InnerHandler"/> when not using <c>IHttpClientFactory</c>.</summary>
    /// <param name="session">The shared refresh state. The handler does not own it.</param>
    public TesseraTokenHandler(TesseraTokenSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        Session = session;
    }

    /// <summary>The refresh state this handler reads tokens from.</summary>
    public TesseraTokenSession Session { get; }

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Headers.Authorization is not null)
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        var token = await Session.GetAccessTokenAsync(cancellationToken).ConfigureAwait(false);
        if (token is null)
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        var canResend = await PrepareBodyForResendAsync(request.Content, cancellationToken).ConfigureAwait(false);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Unauthorized || !TokenResponses.IsInvalidTokenChallenge(response.Headers.WwwAuthenticate, out var description))
        {
            return response;
        }
        var next = await Session.RefreshAfterRejectionAsync(token, cancellationToken).ConfigureAwait(false);
        if (next is null)
        {
            return response;
        }
        if (!canResend)
        {
            Log.NotRetriedUnbufferedBody(Session.Logger);
            return response;
        }
        Log.Retrying(Session.Logger, description ?? "(none)");
        response.Dispose();
        return await base.SendAsync(Copy(request, next), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether the body can be sent twice, buffering it when that is what it takes (see the class remarks).</summary>
    private async Task<bool> PrepareBodyForResendAsync(HttpContent? content, CancellationToken cancellationToken)
    {
        switch (content)
        {
            case null or ByteArrayContent or ReadOnlyMemoryContent or JsonContent:
                return true;
            default:
                if (content.Headers.ContentLength is not { } length || length > Session.MaxBufferedBodyBytes)
                {
                    return false;
                }
                await content.LoadIntoBufferAsync(Session.MaxBufferedBodyBytes, cancellationToken).ConfigureAwait(false);
                return true;
        }
    }

    private static HttpRequestMessage Copy(HttpRequestMessage request, string accessToken)
    {
        var copy = new HttpRequestMessage(request.Method, request.RequestUri)
        {
            // Re-sendable by PrepareBodyForResendAsync: the same content serializes again (from its source or its buffer).
            Content = request.Content,
            Version = request.Version,
            VersionPolicy = request.VersionPolicy,
        };
        foreach (var header in request.Headers)
        {
            copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }
        foreach (var option in request.Options)
        {
            ((IDictionary<string, object?>)copy.Options)[option.Key] = option.Value;
        }
        copy.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return copy;
    }
}
