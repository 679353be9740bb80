using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Tessera.AspNetCore;

/// <summary>
/// Carries the credential in a cookie: <c>HttpOnly</c> always, <c>SameSite=Lax</c>, <c>Secure</c> and the
/// <c>__Host-</c> prefix outside Development (see <see cref="TesseraCookieOptions"/>). A response that sets or clears
/// the cookie is marked <c>Cache-Control: no-store</c> so no cache hands it to someone else, and the response to a
/// sign-out carries <c>Clear-Site-Data</c> when <see cref="TesseraCookieOptions.ClearSiteDataOnSignOut"/> asks for it.
/// With <see cref="TesseraCookieOptions.PublicIndicator"/> on, a second cookie that script can read follows the session
/// cookie: set and cleared with it, and set again whenever a request moves the session's idle deadline.
/// </summary>
public sealed class CookieSessionTransport : ISessionTransport
{
    private readonly TesseraCookieOptions _options;
    private readonly string? _clearSiteData;

    /// <summary>Creates the transport.</summary>
    /// <param name="options">Validated cookie options.</param>
    public CookieSessionTransport(IOptions<TesseraCookieOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _clearSiteData = ClearSiteDataHeader(_options.ClearSiteDataOnSignOut);
    }

    /// <summary>The cookie name in force.</summary>
    public string CookieName => _options.EffectiveName;

    /// <summary>
    /// The public indicator cookie's name in force, or <see langword="null"/> when
    /// <see cref="TesseraCookieOptions.PublicIndicator"/> is off.
    /// </summary>
    public string? PublicIndicatorName => _options.PublicIndicator ? _options.EffectivePublicIndicatorName : null;

    /// <summary>
    /// What <see cref="ReadCredential"/> returns when the request carries the session cookie more than once with
    /// different values: a text that is never a valid credential, so the request has no session (and the rejection is
    /// logged as malformed).
    /// </summary>
    public const string AmbiguousCredential = "(ambiguous)";

    /// <summary>
    /// Reads the session cookie from the <c>Cookie</c> headers, strictly: the name must match exactly (case included:
    /// browsers keep <c>__Host-tessera</c> and <c>__HOST-tessera</c> apart, so must the server), the value is taken as
    /// sent (no percent-decoding, no quotes removed; a credential never needs either), and a cookie that appears more
    /// than once with different values reads as <see cref="AmbiguousCredential"/>, so a cookie planted next to the real
    /// one (cookie tossing from a sibling domain, where the name has no <c>__Host-</c> prefix) never picks the session.
    /// Empty values are ignored. Returns <see langword="null"/> when the cookie is absent.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <returns>The credential text, <see cref="AmbiguousCredential"/>, or <see langword="null"/>.</returns>
    public string? ReadCredential(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        string? found = null;
        for (var pairs = new CookiePairs(context.Request.Headers.Cookie, CookieName); pairs.MoveNext();)
        {
            if (!pairs.Name.SequenceEqual(CookieName) || pairs.Value.IsEmpty || (found is not null && pairs.Value.SequenceEqual(found)))
            {
                continue;
            }
            if (found is not null)
            {
                return AmbiguousCredential;
            }
            found = pairs.Value.ToString();
        }
        return found;
    }

    /// <summary>
    /// Sets or clears the session cookie as <paramref name="result"/> says, for a caller outside the middleware: the
    /// indicator cookie (when on) follows the issued credential's absolute deadline, and a clear is not taken for a
    /// sign-out (no <c>Clear-Site-Data</c>). The middleware calls <see cref="WriteCommit"/>, which knows more.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="result">What the commit decided.</param>
    public void WriteCredential(HttpContext context, SessionCommitResult result) =>
        WriteCommit(context, SessionCommitOutcome.From(result));

    /// <summary>
    /// Applies a commit to the response: an issued credential sets the cookie, a cleared one deletes it (and, after a
    /// sign-out, sends <c>Clear-Site-Data</c> when <see cref="TesseraCookieOptions.ClearSiteDataOnSignOut"/> asks for
    /// it); the public indicator cookie, when on, follows the deadlines the commit wrote, so a touch that moved the idle
    /// deadline sets it again. A commit that changed nothing and wrote no deadline writes nothing.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="commit">What the commit decided.</param>
    public void WriteCommit(HttpContext context, SessionCommitOutcome commit)
    {
        ArgumentNullException.ThrowIfNull(context);
        var result = commit.Result;
        switch (result.Change)
        {
            case CredentialChange.Issue:
                var options = CreateCookieOptions(context);
                if ((commit.Persistent ?? _options.Persistent) && result.AbsoluteExpiresAt is { } expires)
                {
                    options.Expires = expires;
                }
                context.Response.Cookies.Append(CookieName, result.Credential!, options);
                MarkNoStore(context);
                WriteIndicator(context, commit);
                break;
            case CredentialChange.Clear:
                context.Response.Cookies.Delete(CookieName, CreateCookieOptions(context));
                if (PublicIndicatorName is { } indicator)
                {
                    context.Response.Cookies.Delete(indicator, CreateCookieOptions(context, httpOnly: false));
                }
                MarkNoStore(context);
                if (_clearSiteData is not null && commit.SignedOut)
                {
                    context.Response.Headers[ClearSiteDataHeaderName] = _clearSiteData;
                }
                break;
            default:
                // The credential stays; the commit may still have moved the idle deadline (a touch, or a write).
                WriteIndicator(context, commit);
                break;
        }
    }

    /// <summary>
    /// The public indicator cookie's value: <c>&lt;idle expiry&gt;.&lt;absolute expiry&gt;</c> in whole Unix seconds,
    /// rounded down, so a page never believes the session lasts longer than it does.
    /// </summary>
    /// <param name="idleExpiresAt">The session's idle deadline.</param>
    /// <param name="absoluteExpiresAt">The session's absolute deadline.</param>
    /// <returns>The value, for example <c>1767227400.1767254400</c>.</returns>
    public static string PublicIndicatorValue(DateTimeOffset idleExpiresAt, DateTimeOffset absoluteExpiresAt) =>
        string.Create(CultureInfo.InvariantCulture, $"{idleExpiresAt.ToUnixTimeSeconds()}.{absoluteExpiresAt.ToUnixTimeSeconds()}");

    private void WriteIndicator(HttpContext context, SessionCommitOutcome commit)
    {
        if (PublicIndicatorName is not { } name || commit is not { IdleExpiresAt: { } idleExpiresAt, AbsoluteExpiresAt: { } absoluteExpiresAt })
        {
            return;
        }
        var options = CreateCookieOptions(context, httpOnly: false);
        if (commit.Persistent ?? _options.Persistent)
        {
            options.Expires = absoluteExpiresAt;
        }
        context.Response.Cookies.Append(name, PublicIndicatorValue(idleExpiresAt, absoluteExpiresAt), options);
        MarkNoStore(context);
    }

    private CookieOptions CreateCookieOptions(HttpContext context, bool httpOnly = true) => new()
    {
        HttpOnly = httpOnly,
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

    private static string? ClearSiteDataHeader(ClearSiteDataTypes types)
    {
        var directives = new List<string>(4);
        foreach (var (type, directive) in Directives)
        {
            if (types.HasFlag(type))
            {
                directives.Add(directive);
            }
        }
        return directives.Count == 0 ? null : string.Join(", ", directives);
    }

    private const string ClearSiteDataHeaderName = "Clear-Site-Data";

    private static readonly (ClearSiteDataTypes Type, string Directive)[] Directives =
    [
        (ClearSiteDataTypes.Cache, "\"cache\""),
        (ClearSiteDataTypes.Cookies, "\"cookies\""),
        (ClearSiteDataTypes.Storage, "\"storage\""),
        (ClearSiteDataTypes.ExecutionContexts, "\"executionContexts\""),
    ];

    private static void MarkNoStore(HttpContext context)
    {
        context.Response.Headers[HeaderNames.CacheControl] = "no-store";
        context.Response.Headers[HeaderNames.Pragma] = "no-cache";
    }
}
