using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Tessera.AspNetCore;

/// <summary>
/// The request-origin guard (protection against cross-site request forgery on cookie sessions): configuration section
/// <c>Tessera:RequestOrigin</c>, or <c>.ConfigureRequestOrigin(...)</c> in code. Validated at start-up.
/// </summary>
/// <remarks>
/// The guard looks only at unsafe requests (every method but GET, HEAD and OPTIONS), WebSocket handshakes and SignalR
/// Server-Sent Events GETs, whose session credential is a cookie. It refuses one with 403 when the browser says it came from another origin: <c>Sec-Fetch-Site</c> is
/// <c>cross-site</c> (or <c>same-site</c>, unless <see cref="AllowSameSite"/>), or, from a browser that sends no Fetch
/// Metadata, <c>Origin</c> names a host other than the request's. <c>same-origin</c> and <c>none</c> pass, and so does a
/// request with neither header (a script, a native client, a test). Bearer-token requests, endpoints marked
/// <c>DisableTesseraOriginCheck()</c>, the callback paths of remote authentication handlers and
/// <see cref="ExemptPaths"/> are never refused. See docs/security.md.
/// </remarks>
public sealed class TesseraRequestOriginOptions
{
    /// <summary>
    /// Whether the guard runs. Default <see langword="true"/> (<see cref="TesseraDefaults.RequestOriginCheckEnabled"/>).
    /// Turn it off only when something else already checks the origin of every state-changing request (antiforgery
    /// tokens on every form and fetch, say); to exempt a few endpoints, mark them <c>DisableTesseraOriginCheck()</c>
    /// instead.
    /// </summary>
    public bool Enabled { get; set; } = TesseraDefaults.RequestOriginCheckEnabled;

    /// <summary>
    /// Whether a request the browser marks <c>Sec-Fetch-Site: same-site</c> passes: from another subdomain of the same
    /// registrable domain, or another port of the same host. Default <see langword="false"/>
    /// (<see cref="TesseraDefaults.RequestOriginAllowSameSite"/>): a sibling subdomain is often less trusted than the
    /// application (user content, a marketing site), and it is exactly what <c>SameSite=Lax</c> does not stop. Prefer
    /// listing the sibling origins you trust in <see cref="TrustedOrigins"/>.
    /// </summary>
    public bool AllowSameSite { get; set; } = TesseraDefaults.RequestOriginAllowSameSite;

    /// <summary>
    /// Origins whose requests always pass, whatever <c>Sec-Fetch-Site</c> says: each exactly
    /// <c>scheme://host[:port]</c>, as browsers send it in the <c>Origin</c> header (<c>https://admin.example.com</c>,
    /// <c>http://localhost:3000</c>); no path, not even a trailing slash, no query, no user information, no wildcard.
    /// Scheme and host are compared without regard to case, and a default port (<c>:443</c> for https, <c>:80</c>
    /// for http) is the same as none. Default empty. A bad entry fails at start-up, naming it.
    /// </summary>
    public IList<string> TrustedOrigins { get; } = [];

    /// <summary>
    /// Request paths the guard never refuses: each path and everything under it (<c>/hooks</c> covers
    /// <c>/hooks/github</c>), compared without regard to case. Default empty. Each must start with <c>/</c>. For
    /// endpoints, prefer <c>DisableTesseraOriginCheck()</c>; this list is for what routing does not see, such as an
    /// authentication handler that handles its own callback but does not derive from <c>RemoteAuthenticationHandler</c>
    /// (those that do, like OpenID Connect, are exempt without being listed).
    /// </summary>
    public IList<string> ExemptPaths { get; } = [];
}

/// <summary>Validates <see cref="TesseraRequestOriginOptions"/> at start-up.</summary>
internal sealed class TesseraRequestOriginOptionsValidator : IValidateOptions<TesseraRequestOriginOptions>
{
    public ValidateOptionsResult Validate(string? name, TesseraRequestOriginOptions options)
    {
        var failures = new List<string>();
        foreach (var origin in options.TrustedOrigins)
        {
            if (RequestOrigins.Normalize(origin, out var problem) is null)
            {
                failures.Add($"Tessera:RequestOrigin:TrustedOrigins entry '{origin}' is not an origin: {problem} Write it as scheme://host[:port], for example https://app.example.com.");
            }
        }
        foreach (var path in options.ExemptPaths)
        {
            if (string.IsNullOrEmpty(path) || path[0] != '/' || path.Contains('?', StringComparison.Ordinal) || path.Contains('#', StringComparison.Ordinal))
            {
                failures.Add($"Tessera:RequestOrigin:ExemptPaths entry '{path}' must be a path that starts with '/' (no query, no fragment).");
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>How origins are written and compared: the serialization browsers use in the <c>Origin</c> header.</summary>
internal static class RequestOrigins
{
    /// <summary>
    /// The canonical form of an origin (<c>scheme://host[:port]</c>, lower case, no default port), or
    /// <see langword="null"/> with <paramref name="problem"/> saying why <paramref name="origin"/> is not one.
    /// </summary>
    public static string? Normalize(string? origin, out string problem)
    {
        problem = string.Empty;
        if (string.IsNullOrWhiteSpace(origin))
        {
            problem = "it is empty.";
            return null;
        }
        var separator = origin.IndexOf("://", StringComparison.Ordinal);
        if (separator <= 0)
        {
            problem = "it has no scheme.";
            return null;
        }
        var authority = origin.AsSpan(separator + 3);
        if (authority.IndexOfAny('/', '?', '#') >= 0)
        {
            problem = "an origin has no path (not even a trailing '/'), query or fragment.";
            return null;
        }
        if (authority.Contains('@') || authority.Contains('*') || authority.ContainsAny(' ', '\t'))
        {
            problem = "an origin has no user information, wildcard or spaces.";
            return null;
        }
        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.IdnHost))
        {
            problem = "it does not parse as scheme://host[:port].";
            return null;
        }
        var scheme = uri.Scheme.ToLowerInvariant();
        // Uri keeps an IPv6 literal's brackets in Host only; the Origin header carries them, and a name in its ASCII form.
        var host = (uri.HostNameType == UriHostNameType.IPv6 ? uri.Host : uri.IdnHost).ToLowerInvariant();
        return uri.IsDefaultPort ? $"{scheme}://{host}" : $"{scheme}://{host}:{uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
    }

    /// <summary>Whether the <c>Origin</c> header value names the host the application sees for this request.</summary>
    /// <remarks>
    /// Only the host and port are compared, not the scheme (as Go's <c>CrossOriginProtection</c> does): behind a proxy
    /// that terminates TLS without forwarded headers the application sees <c>http</c> while the browser says
    /// <c>https</c>. Browsers that send no <c>Sec-Fetch-Site</c> are the only ones this fallback serves.
    /// </remarks>
    public static bool MatchesHost(string origin, HostString host)
    {
        var separator = origin.IndexOf("://", StringComparison.Ordinal);
        return separator > 0 && host.HasValue && origin.AsSpan(separator + 3).Equals(host.Value, StringComparison.OrdinalIgnoreCase);
    }
}
