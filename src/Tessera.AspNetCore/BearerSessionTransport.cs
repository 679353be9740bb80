using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Tessera.AspNetCore;

/// <summary>
/// Carries an access token in <c>Authorization: Bearer &lt;token&gt;</c> (RFC 6750 §2.1): the scheme is matched
/// case-insensitively and exactly one token must follow. A request whose Authorization header names the Bearer scheme
/// is a bearer request even when the token is malformed, repeated or oversized: it then reads as an invalid token (a
/// 401 where authentication is required), never as a cookie request and never as a 500. Other schemes (Basic, ...)
/// are ignored, so the cookie transport serves those requests.
/// </summary>
/// <remarks>
/// Enabled by <c>AddTessera().AddBearerTokens()</c>. A commit never changes the client's tokens (they are issued by
/// <see cref="SessionManager.Tokens"/> and the token endpoints), so this transport never writes a header, and a bearer
/// request never sets or clears a cookie.
/// </remarks>
public sealed class BearerSessionTransport : ISessionTransport
{
    private const string Scheme = "Bearer";

    private readonly int _maxTokenLength;

    /// <summary>Creates the transport.</summary>
    /// <param name="options">The session options; <see cref="Tokens.TesseraTokenOptions.MaxTokenLength"/> caps the header.</param>
    public BearerSessionTransport(IOptions<TesseraOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _maxTokenLength = options.Value.Tokens.MaxTokenLength;
    }

    /// <inheritdoc />
    public SessionCredentialKind CredentialKind => SessionCredentialKind.AccessToken;

    /// <summary>
    /// Reads the bearer token: <see langword="null"/> when the request has no Bearer Authorization header, the token
    /// when it has exactly one well-formed one, and an empty string (an invalid token) for anything else.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <returns>The token, an empty string for a malformed one, or <see langword="null"/>.</returns>
    public string? ReadCredential(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return ReadToken(context.Request, _maxTokenLength);
    }

    /// <summary>Does nothing: tokens are never issued or cleared by a commit.</summary>
    /// <param name="context">The request.</param>
    /// <param name="result">What the commit decided (ignored).</param>
    public void WriteCredential(HttpContext context, SessionCommitResult result)
    {
    }

    /// <summary>The parsing rules of <see cref="ReadCredential"/>, for the token endpoints.</summary>
    internal static string? ReadToken(HttpRequest request, int maxTokenLength)
    {
        var values = request.Headers[HeaderNames.Authorization];
        string? found = null;
        var bearerHeaders = 0;
        foreach (var value in values)
        {
            if (value is null || !IsBearer(value))
            {
                continue;
            }
            bearerHeaders++;
            found = value;
        }
        if (bearerHeaders == 0)
        {
            return null;
        }
        if (bearerHeaders > 1 || found!.Length > Scheme.Length + 1 + maxTokenLength + 16)
        {
            return string.Empty;
        }
        var token = found.AsSpan(Scheme.Length).Trim(' ');
        if (token.Length == 0 || token.Length > maxTokenLength || !IsToken68(token))
        {
            return string.Empty;
        }
        return token.ToString();
    }

    private static bool IsBearer(string value) =>
        value.Length >= Scheme.Length
        && value.AsSpan(0, Scheme.Length).Equals(Scheme, StringComparison.OrdinalIgnoreCase)
        && (value.Length == Scheme.Length || value[Scheme.Length] == ' ');

    // RFC 6750's b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=". A space inside means two tokens.
    // Searched with vectorised instructions: the check runs on every bearer request.
    private static readonly SearchValues<char> Token68Characters =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/");

    private static bool IsToken68(ReadOnlySpan<char> token)
    {
        var body = token.TrimEnd('=');
        return body.Length > 0 && !body.ContainsAnyExcept(Token68Characters);
    }
}
