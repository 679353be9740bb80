using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace Tessera.Testing.OpenIdConnect;

/// <summary>
/// A real HTTP client that acts like a browser where the OpenID Connect flow depends on it: it follows redirects by
/// hand, keeps cookies per host and path, sends them by their <c>Secure</c> and <c>SameSite</c> attributes (a
/// <c>Lax</c> cookie goes with a cross-site top-level GET, not a cross-site POST; <c>Strict</c> only same-site),
/// submits an auto-posting <c>form_post</c> page, and sends <c>Origin</c> and <c>Sec-Fetch-Site</c> on a POST.
/// </summary>
/// <remarks>
/// Sites are schemeful hosts (a port does not make another site, as in browsers): <c>https://localhost:1</c> and
/// <c>https://127.0.0.1:2</c> are two sites. Every <c>Set-Cookie</c> header received is recorded in
/// <see cref="SetCookies"/> with the URL that set it.
/// </remarks>
public sealed partial class TestBrowser : IDisposable
{
    private const int MaxRedirects = 20;
    private readonly HttpClient _http;
    private readonly List<StoredCookie> _cookies = [];

    /// <summary>Creates a browser whose connections trust <paramref name="certificate"/>.</summary>
    /// <param name="certificate">The servers' certificate.</param>
    public TestBrowser(TestCertificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        _http = new HttpClient(certificate.CreateHandler());
    }

    /// <summary>Every <c>Set-Cookie</c> header received, with the URL of the response that carried it, oldest first.</summary>
    public List<(Uri Url, string Header)> SetCookies { get; } = [];

    /// <summary>The value of the cookie <paramref name="name"/> kept for <paramref name="url"/>'s host, or <see langword="null"/>.</summary>
    /// <param name="url">A URL of the host.</param>
    /// <param name="name">The cookie's name.</param>
    /// <returns>The value.</returns>
    public string? Cookie(Uri url, string name) =>
        _cookies.FirstOrDefault(c => c.Host == url.Host && c.Name == name)?.Value;

    /// <summary>Sets (or replaces) a host-only cookie, as a saved copy put back into the browser.</summary>
    /// <param name="url">A URL of the host.</param>
    /// <param name="name">The cookie's name.</param>
    /// <param name="value">The value.</param>
    public void PutCookie(Uri url, string name, string value)
    {
        ArgumentNullException.ThrowIfNull(url);
        _cookies.RemoveAll(c => c.Host == url.Host && c.Name == name && c.Path == "/");
        _cookies.Add(new StoredCookie(url.Host, name, value, "/", Secure: true, SameSite: "lax"));
    }

    /// <summary>
    /// Navigates to <paramref name="url"/> (a GET, or a POST of <paramref name="form"/>) from a page of
    /// <paramref name="initiator"/> (or typed in the address bar when <see langword="null"/>), follows redirects, and
    /// submits an auto-posting form page it lands on, until a page that is neither.
    /// </summary>
    /// <param name="url">The URL.</param>
    /// <param name="form">Form fields to POST, or <see langword="null"/> for a GET.</param>
    /// <param name="initiator">The URL of the page the navigation starts from, or <see langword="null"/>.</param>
    /// <returns>The final response and its URL; the caller disposes the response.</returns>
    public async Task<(Uri Url, HttpResponseMessage Response)> NavigateAsync(Uri url, IEnumerable<KeyValuePair<string, string>>? form = null, Uri? initiator = null)
    {
        ArgumentNullException.ThrowIfNull(url);
        var crossSite = initiator is not null && !SameSite(initiator, url);
        for (var hop = 0; hop < MaxRedirects; hop++)
        {
            var response = await SendAsync(url, form, initiator, crossSite);
            if (response.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Found or HttpStatusCode.SeeOther or HttpStatusCode.MovedPermanently or HttpStatusCode.TemporaryRedirect)
            {
                var next = new Uri(url, response.Headers.Location!);
                response.Dispose();
                // A redirect chain is cross-site once any hop left the site it started from.
                crossSite |= !SameSite(url, next);
                (url, form) = (next, null);
                continue;
            }
            var body = response.Content.Headers.ContentType?.MediaType == "text/html" ? await response.Content.ReadAsStringAsync() : "";
            if (AutoPostForm().Match(body) is { Success: true } match)
            {
                // The page posts its form at once (OpenID Connect's form_post response mode).
                var action = new Uri(url, WebUtility.HtmlDecode(match.Groups["action"].Value));
                var fields = HiddenInput().Matches(match.Groups["inputs"].Value)
                    .Select(i => KeyValuePair.Create(WebUtility.HtmlDecode(i.Groups["name"].Value), WebUtility.HtmlDecode(i.Groups["value"].Value)))
                    .ToList();
                response.Dispose();
                (initiator, crossSite) = (url, !SameSite(url, action));
                (url, form) = (action, fields);
                continue;
            }
            return (url, response);
        }
        throw new InvalidOperationException($"More than {MaxRedirects} redirects.");
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    private async Task<HttpResponseMessage> SendAsync(Uri url, IEnumerable<KeyValuePair<string, string>>? form, Uri? initiator, bool crossSite)
    {
        var post = form is not null;
        using var request = new HttpRequestMessage(post ? HttpMethod.Post : HttpMethod.Get, url);
        if (post)
        {
            request.Content = new FormUrlEncodedContent(form!);
        }
        var cookies = _cookies.Where(c => c.Host == url.Host && PathMatches(c.Path, url.AbsolutePath) && (!c.Secure || url.Scheme == Uri.UriSchemeHttps) && (!crossSite || c.SameSite == "none" || (c.SameSite == "lax" && !post))).ToList();
        if (cookies.Count > 0)
        {
            request.Headers.TryAddWithoutValidation("Cookie", string.Join("; ", cookies.Select(c => $"{c.Name}={c.Value}")));
        }
        if (post && initiator is not null)
        {
            request.Headers.TryAddWithoutValidation("Origin", initiator.GetLeftPart(UriPartial.Authority));
            request.Headers.TryAddWithoutValidation("Sec-Fetch-Site", crossSite ? "cross-site" : SameOrigin(initiator, url) ? "same-origin" : "same-site");
        }
        var response = await _http.SendAsync(request);
        if (response.Headers.TryGetValues("Set-Cookie", out var values))
        {
            foreach (var header in values)
            {
                SetCookies.Add((url, header));
                Store(url, header);
            }
        }
        return response;
    }

    private void Store(Uri url, string header)
    {
        var parts = header.Split(';', StringSplitOptions.TrimEntries);
        var equals = parts[0].IndexOf('=', StringComparison.Ordinal);
        var (name, value) = (parts[0][..equals], parts[0][(equals + 1)..]);
        var attributes = parts.Skip(1).Select(p => p.Split('=', 2)).ToDictionary(p => p[0].ToLowerInvariant(), p => p.Length > 1 ? p[1] : "", StringComparer.Ordinal);
        var path = attributes.GetValueOrDefault("path") is { Length: > 0 } p ? p : "/";
        _cookies.RemoveAll(c => c.Host == url.Host && c.Name == name && c.Path == path);
        var expired = (attributes.TryGetValue("max-age", out var maxAge) && int.Parse(maxAge, CultureInfo.InvariantCulture) <= 0)
            || (attributes.TryGetValue("expires", out var expires) && DateTimeOffset.Parse(expires, CultureInfo.InvariantCulture) <= DateTimeOffset.UtcNow);
        if (!expired)
        {
            // No SameSite attribute means Lax, as browsers treat it today.
            _cookies.Add(new StoredCookie(url.Host, name, value, path, attributes.ContainsKey("secure"), attributes.GetValueOrDefault("samesite")?.ToLowerInvariant() ?? "lax"));
        }
    }

    private static bool PathMatches(string cookiePath, string requestPath) =>
        requestPath.StartsWith(cookiePath, StringComparison.Ordinal)
        && (cookiePath.EndsWith('/') || requestPath.Length == cookiePath.Length || requestPath[cookiePath.Length] == '/');

    private static bool SameSite(Uri a, Uri b) => a.Scheme == b.Scheme && string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase);

    private static bool SameOrigin(Uri a, Uri b) => SameSite(a, b) && a.Port == b.Port;

    [GeneratedRegex("""<form[^>]*method="post"[^>]*action="(?<action>[^"]+)"[^>]*>(?<inputs>.*?)</form>\s*<script>""", RegexOptions.Singleline | RegexOptions.IgnoreCase)]
    private static partial Regex AutoPostForm();

    [GeneratedRegex("""<input[^>]*type="hidden"[^>]*name="(?<name>[^"]*)"[^>]*value="(?<value>[^"]*)"[^>]*>""", RegexOptions.IgnoreCase)]
    private static partial Regex HiddenInput();

    private sealed record StoredCookie(string Host, string Name, string Value, string Path, bool Secure, string SameSite);
}
