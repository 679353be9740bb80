using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Tessera.AspNetCore;

/// <summary>How the session cookie is written. Validated at start-up.</summary>
public sealed class TesseraCookieOptions
{
    /// <summary>
    /// The cookie name. Default <see langword="null"/>: <c>__Host-tessera</c> when the cookie is always Secure, else
    /// <c>tessera</c>. A <c>__Host-</c> name requires <see cref="SecurePolicy"/> Always, path <c>/</c> and no domain.
    /// </summary>
    public string? Name { get; set; }

    /// <summary>
    /// When the cookie carries <c>Secure</c>. Default <see langword="null"/>: <see cref="CookieSecurePolicy.Always"/>,
    /// except in the Development environment where it is <see cref="CookieSecurePolicy.SameAsRequest"/> so plain-http
    /// localhost keeps working.
    /// </summary>
    public CookieSecurePolicy? SecurePolicy { get; set; }

    /// <summary>The SameSite attribute. Default <see cref="SameSiteMode.Lax"/>: sent on top-level navigations, not on cross-site subrequests.</summary>
    public SameSiteMode SameSite { get; set; } = SameSiteMode.Lax;

    /// <summary>The cookie path. Default <c>/</c>; must be <c>/</c> for a <c>__Host-</c> name.</summary>
    public string Path { get; set; } = "/";

    /// <summary>The cookie domain. Default <see langword="null"/> (host-only, the safest); must be null for a <c>__Host-</c> name.</summary>
    public string? Domain { get; set; }

    /// <summary>
    /// Whether the cookie outlives the browser session, expiring at the session's absolute deadline. Default
    /// <see langword="false"/>: a browser-session cookie, as OWASP recommends for session ids. A session signed in with
    /// <c>HttpContext.SignInAsync("Tessera", ...)</c>, or through cookie authentication with its tickets in Tessera
    /// (<c>AddTesseraTicketStore</c>), follows its <c>AuthenticationProperties.IsPersistent</c> instead.
    /// </summary>
    public bool Persistent { get; set; }

    /// <summary>
    /// What the response to a sign-out asks the browser to clear, with a <c>Clear-Site-Data</c> header, on top of the
    /// session cookie Tessera always clears. Default <see cref="ClearSiteDataTypes.None"/>: no header. In configuration,
    /// <c>Tessera:Cookie:ClearSiteDataOnSignOut</c> = <c>"Cookies, Storage"</c>.
    /// </summary>
    /// <remarks>
    /// Sent only by the response whose commit clears the cookie because the request destroyed its session
    /// (<c>SignOut()</c> or <c>Destroy()</c>); not when a cookie is cleared because the session was revoked elsewhere or
    /// expired while the request ran, nor when a sign-in is refused by the session limit, nor on token endpoints.
    /// Browsers honour the header only in a secure context (HTTPS, or <c>http://localhost</c>), and ignore it otherwise.
    /// Mind the reach of each type: <see cref="ClearSiteDataTypes.Cookies"/> clears every cookie of the whole
    /// registrable domain, subdomains included (so other applications on <c>*.example.com</c> are signed out too), and
    /// <see cref="ClearSiteDataTypes.Cache"/> can make the response slow in some browsers.
    /// </remarks>
    public ClearSiteDataTypes ClearSiteDataOnSignOut { get; set; }

    /// <summary>
    /// Whether a second, public cookie tells the page's script that a session exists and when it expires, so a front end
    /// can skip calls that would fail (Compas's <c>keepPublicCookie</c>). Default <see langword="false"/>: no such cookie.
    /// </summary>
    /// <remarks>
    /// The cookie is readable by JavaScript (no <c>HttpOnly</c>) and holds no secret: its value is
    /// <c>&lt;idle expiry&gt;.&lt;absolute expiry&gt;</c>, two Unix times in whole seconds (the idle one rounded down), for
    /// example <c>1767227400.1767254400</c>; never the credential or the session id. It has the session cookie's
    /// <c>Secure</c>, <c>SameSite</c>, <c>Path</c>, <c>Domain</c> and lifetime (a browser-session cookie unless
    /// <see cref="Persistent"/>), and moves in step with it: set whenever the credential is issued, set again whenever a
    /// request moves the idle deadline (a write, or a touch at most once per <c>TouchInterval</c>), and cleared whenever
    /// the credential is cleared (sign-out, a session revoked or expired while its request ran, a refused sign-in). Like
    /// the session cookie, it is not cleared by a request whose cookie finds no session (a parallel request may just have
    /// replaced both), so a page treats it as a hint: past its idle expiry the session is gone, and a 401 means it was
    /// revoked elsewhere (the page may then delete the cookie itself). Bearer-token requests never set it.
    /// </remarks>
    public bool PublicIndicator { get; set; }

    /// <summary>
    /// The public indicator cookie's name (see <see cref="PublicIndicator"/>). Default <see langword="null"/>: the session
    /// cookie's name followed by <c>.state</c> (<c>__Host-tessera.state</c>, or <c>tessera.state</c> in Development), so it
    /// keeps the <c>__Host-</c> prefix when the session cookie has it. Must differ from the session cookie's name and follow
    /// the same rules.
    /// </summary>
    public string? PublicIndicatorName { get; set; }

    /// <summary>The name in force after start-up configuration (set by Tessera; read it, do not set it).</summary>
    internal string EffectiveName => Name ?? TesseraDefaults.DevelopmentCookieName;

    /// <summary>The public indicator cookie's name in force.</summary>
    internal string EffectivePublicIndicatorName => PublicIndicatorName ?? EffectiveName + ".state";
}

/// <summary>
/// Types of browsing data a <c>Clear-Site-Data</c> header asks the browser to clear (see
/// <see cref="TesseraCookieOptions.ClearSiteDataOnSignOut"/>); combine them with <c>|</c>, or in configuration with
/// commas (<c>"Cookies, Storage"</c>).
/// </summary>
[Flags]
public enum ClearSiteDataTypes
{
    /// <summary>Nothing: no header is sent.</summary>
    None = 0,

    /// <summary><c>"cache"</c>: the browser's HTTP cache for the origin (and, in some browsers, other caches).</summary>
    Cache = 1,

    /// <summary>
    /// <c>"cookies"</c>: every cookie of the registrable domain, subdomains included, and HTTP authentication
    /// credentials.
    /// </summary>
    Cookies = 2,

    /// <summary><c>"storage"</c>: DOM storage of the origin (localStorage, IndexedDB, service worker registrations, ...).</summary>
    Storage = 4,

    /// <summary><c>"executionContexts"</c>: reloads the origin's open documents; not every browser supports it.</summary>
    ExecutionContexts = 8,
}

/// <summary>Fills the environment-dependent defaults of <see cref="TesseraCookieOptions"/> (outside a host, as in Production).</summary>
internal sealed class TesseraCookieOptionsSetup(IHostEnvironment? environment = null) : IPostConfigureOptions<TesseraCookieOptions>
{
    public void PostConfigure(string? name, TesseraCookieOptions options)
    {
        var development = environment?.IsDevelopment() ?? false;
        options.SecurePolicy ??= development ? CookieSecurePolicy.SameAsRequest : CookieSecurePolicy.Always;
        options.Name ??= options.SecurePolicy == CookieSecurePolicy.Always
            ? TesseraDefaults.SecureCookieName
            : TesseraDefaults.DevelopmentCookieName;
    }
}

/// <summary>Validates <see cref="TesseraCookieOptions"/> at start-up.</summary>
internal sealed class TesseraCookieOptionsValidator : IValidateOptions<TesseraCookieOptions>
{
    public ValidateOptionsResult Validate(string? name, TesseraCookieOptions options)
    {
        var failures = new List<string>();
        ValidateName(options.Name ?? string.Empty, "Name", options, failures);
        if (options.PublicIndicator)
        {
            ValidateName(options.EffectivePublicIndicatorName, "PublicIndicatorName", options, failures);
            var indicator = options.EffectivePublicIndicatorName;
            var session = options.Name ?? options.EffectiveName;
            if (string.Equals(indicator, session, StringComparison.Ordinal))
            {
                failures.Add("Tessera cookie PublicIndicatorName must differ from the session cookie's Name.");
            }
            else if (indicator.Length > session.Length + 1 && indicator.StartsWith(session + ".", StringComparison.Ordinal) && indicator.AsSpan(session.Length + 1).IndexOfAnyExceptInRange('0', '9') < 0)
            {
                failures.Add($"Tessera cookie PublicIndicatorName must not be the session cookie's name, a dot and digits: the cookie store keeps its chunks under those names ({session}.0, {session}.1, ...).");
            }
        }
        if (string.IsNullOrEmpty(options.Path) || options.Path[0] != '/')
        {
            failures.Add("Tessera cookie Path must start with '/'.");
        }
        if ((options.ClearSiteDataOnSignOut & ~(ClearSiteDataTypes.Cache | ClearSiteDataTypes.Cookies | ClearSiteDataTypes.Storage | ClearSiteDataTypes.ExecutionContexts)) != 0)
        {
            failures.Add("Tessera cookie ClearSiteDataOnSignOut may combine only Cache, Cookies, Storage and ExecutionContexts.");
        }
        if (options.SameSite == SameSiteMode.None && options.SecurePolicy != CookieSecurePolicy.Always)
        {
            failures.Add("SameSite=None requires SecurePolicy Always (browsers drop insecure SameSite=None cookies).");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    // The rules of a cookie name, for the session cookie and the public indicator alike (they share every attribute).
    private static void ValidateName(string cookieName, string property, TesseraCookieOptions options, List<string> failures)
    {
        if (cookieName.Length == 0 || cookieName.Any(c => c <= ' ' || c >= 127 || "()<>@,;:\\\"/[]?={}".Contains(c)))
        {
            failures.Add($"Tessera cookie {property} must be a non-empty cookie token (no spaces, separators or control characters).");
        }
        if (cookieName.StartsWith("__Host-", StringComparison.Ordinal))
        {
            if (options.SecurePolicy != CookieSecurePolicy.Always)
            {
                failures.Add($"A '__Host-' cookie must be Secure: set SecurePolicy to Always or choose another {property}.");
            }
            if (options.Path != "/" || options.Domain is not null)
            {
                failures.Add($"A '__Host-' cookie ({property}) must have Path '/' and no Domain.");
            }
        }
        if (cookieName.StartsWith("__Secure-", StringComparison.Ordinal) && options.SecurePolicy != CookieSecurePolicy.Always)
        {
            failures.Add($"A '__Secure-' cookie ({property}) must be Secure: set SecurePolicy to Always.");
        }
    }
}
