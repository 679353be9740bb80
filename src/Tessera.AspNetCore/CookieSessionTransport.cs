using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Tessera.AspNetCore;

/// <summary>
/// Carries the credential in a cookie: <c>HttpOnly</c> always, <c>SameSite=Lax</c>, <c>Secure</c> and the
/// <c>__Host-</c> prefix outside Development (see <see cref="TesseraCookieOptions"/>). A response that sets or clears
/// the cookie is marked <c>Cache-Control: no-store</c> so no cache hands it to someone else.
/// </summary>
public sealed class CookieSessionTransport : ISessionTransport
{
    private readonly TesseraCookieOptions _options;

    /// <summary>Creates the transport.</summary>
    /// <param name="options">Validated cookie options.</param>
    public CookieSessionTransport(IOptions<TesseraCookieOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
    }

    /// <summary>The cookie name in force.</summary>
    public string CookieName => _options.EffectiveName;

    /// <inheritdoc />
    public string? ReadCredential(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Request.Cookies.TryGetValue(CookieName, out var value) ? value : null;
    }

    /// <inheritdoc />
    public void WriteCredential(HttpContext context, SessionCommitResult result)
    {
        ArgumentNullException.ThrowIfNull(context);
        switch (result.Change)
        {
            case CredentialChange.Issue:
                var options = CreateCookieOptions(context);
                if (_options.Persistent && result.AbsoluteExpiresAt is { } expires)
                {
                    options.Expires = expires;
                }
                context.Response.Cookies.Append(CookieName, result.Credential!, options);
                MarkNoStore(context);
                break;
            case CredentialChange.Clear:
                context.Response.Cookies.Delete(CookieName, CreateCookieOptions(context));
                MarkNoStore(context);
                break;
            default:
                break;
        }
    }

    private CookieOptions CreateCookieOptions(HttpContext context) => new()
    {
        HttpOnly = true,
        SameSite = _options.SameSite,
        Path = _options.Path,
        Domain = _options.Domain,
        Secure = _options.SecurePolicy switch
        {
            CookieSecurePolicy.Always => true,
            CookieSecurePolicy.None => false,
            _ => context.Request.IsHttps,
        },
        IsEssential = true,
    };

    private static void MarkNoStore(HttpContext context)
    {
        context.Response.Headers[HeaderNames.CacheControl] = "no-store";
        context.Response.Headers[HeaderNames.Pragma] = "no-cache";
    }
}
