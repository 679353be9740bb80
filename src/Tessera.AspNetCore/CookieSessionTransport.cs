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
                // The commit that issued the credential wrote the session's deadlines; a caller outside the middleware
                // has only the absolute one, which the idle deadline never passes.
                var deadlines = context.Features.Get<ITesseraSessionFeature>()?.Session.CommittedDeadlines;
                if ((deadlines ?? (result.AbsoluteExpiresAt is { } absolute ? (absolute, absolute) : null)) is { } written)
                {
                    WriteIndicator(context, written.IdleExpiresAt, written.AbsoluteExpiresAt);
                }
                break;
            case CredentialChange.Clear:
                context.Response.Cookies.Delete(CookieName, CreateCookieOptions(context));
                if (PublicIndicatorName is { } indicator)
                {
                    context.Response.Cookies.Delete(indicator, CreateCookieOptions(context, httpOnly: false));
                }
                MarkNoStore(context);
                if (_clearSiteData is not null && WasSignedOut(context))
                {
                    context.Response.Headers[ClearSiteDataHeaderName] = _clearSiteData;
                }
                break;
            default:
                break;
        }
    }

    /// <summary>
    /// Sets the public indicator cookie again after a commit that moved the session's idle deadline but kept its
    /// credential (a touch, or a write); does nothing when the indicator is off or the commit wrote no deadline. The
    /// middleware calls it before the response starts.
    /// </summary>
    internal void RefreshIndicator(HttpContext context, TesseraSession session)
    {
        if (session.CommittedDeadlines is { } deadlines)
        {
            WriteIndicator(context, deadlines.IdleExpiresAt, deadlines.AbsoluteExpiresAt);
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

    private void WriteIndicator(HttpContext context, DateTimeOffset idleExpiresAt, DateTimeOffset absoluteExpiresAt)
    {
        if (PublicIndicatorName is not { } name)
        {
            return;
        }
        var options = CreateCookieOptions(context, httpOnly: false);
        if (_options.Persistent)
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

    // A commit clears the credential for three reasons: the request destroyed its session, the session was revoked or
    // expired while the request ran, or the session limit refused a sign-in. After a destroy the view is a new session
    // with nothing pending (had it written again, the commit would have issued a new cookie); after the other two it is
    // still backed by its record, or its sign-in was refused.
    private static bool WasSignedOut(HttpContext context) =>
        context.Features.Get<ITesseraSessionFeature>()?.Session is { } session && session.IsNew && !session.SignInRefused;

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
