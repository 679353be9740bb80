namespace Tessera.Testing;

/// <summary>
/// A real HTTP client that keeps the session cookie by hand (no cookie container), so tests can read, replace and tamper
/// with it exactly; it sends an access token too when <see cref="AccessToken"/> is set. Cookies the server sets whose
/// names start with the session cookie's name and a dot (the cookie store's chunks, <c>tessera.0</c>, ...) are kept
/// and sent back as companions, as a browser would.
/// </summary>
public sealed class CookieClient : IDisposable
{
    private readonly HttpClient _http;

    /// <summary>Creates a client for a server.</summary>
    /// <param name="baseAddress">The server's address.</param>
    /// <param name="cookieName">The session cookie's name.</param>
    public CookieClient(Uri baseAddress, string cookieName)
    {
        _http = new HttpClient(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = baseAddress };
        CookieName = cookieName;
    }

    /// <summary>The session cookie's name.</summary>
    public string CookieName { get; }

    /// <summary>The cookie value sent with each request; <see langword="null"/> sends no cookie. Updated from responses.</summary>
    public string? Cookie { get; set; }

    /// <summary>
    /// The companion cookies kept besides the session cookie (name to value; names start with <see cref="CookieName"/>
    /// and a dot), sent after it with each request and updated from responses. Empty for a server-side store.
    /// </summary>
    public SortedDictionary<string, string> Companions { get; } = new(StringComparer.Ordinal);

    /// <summary>Every cookie the client holds (the session cookie and its companions), to hand to another client.</summary>
    /// <returns>A copy, name to value.</returns>
    public IReadOnlyDictionary<string, string> SaveCookies()
    {
        var saved = new Dictionary<string, string>(Companions, StringComparer.Ordinal);
        if (Cookie is not null)
        {
            saved[CookieName] = Cookie;
        }
        return saved;
    }

    /// <summary>Replaces every cookie the client holds with ones saved by <see cref="SaveCookies"/> (from this client or another).</summary>
    /// <param name="saved">The cookies.</param>
    public void RestoreCookies(IReadOnlyDictionary<string, string> saved)
    {
        ArgumentNullException.ThrowIfNull(saved);
        Companions.Clear();
        Cookie = null;
        foreach (var (name, value) in saved)
        {
            if (string.Equals(name, CookieName, StringComparison.Ordinal))
            {
                Cookie = value;
            }
            else
            {
                Companions[name] = value;
            }
        }
    }

    /// <summary>
    /// An access token sent as <c>Authorization: Bearer</c> with each request; <see langword="null"/> sends no
    /// Authorization header.
    /// </summary>
    public string? AccessToken { get; set; }

    /// <summary>The raw <c>Set-Cookie</c> header of the session cookie in the last response, or <see langword="null"/>.</summary>
    public string? LastSetCookie { get; private set; }

    /// <summary>Sends a request with the current cookie and applies the session cookie the response sets or clears.</summary>
    /// <param name="method">The method.</param>
    /// <param name="path">The path.</param>
    /// <param name="content">The body, or <see langword="null"/>.</param>
    /// <param name="cookieHeader">A raw Cookie header to send instead of the kept cookie, or <see langword="null"/>.</param>
    /// <param name="authorization">
    /// Raw Authorization header values to send instead of <see cref="AccessToken"/> (several values send several headers),
    /// or <see langword="null"/>.
    /// </param>
    /// <returns>The response.</returns>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? content = null, string? cookieHeader = null, IReadOnlyList<string>? authorization = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        var header = cookieHeader ?? KeptCookieHeader();
        if (header is not null)
        {
            request.Headers.TryAddWithoutValidation("Cookie", header);
        }
        foreach (var value in authorization ?? (AccessToken is null ? [] : [$"Bearer {AccessToken}"]))
        {
            request.Headers.TryAddWithoutValidation("Authorization", value);
        }
        var response = await _http.SendAsync(request);
        LastSetCookie = null;
        if (response.Headers.TryGetValues("Set-Cookie", out var values))
        {
            foreach (var value in values)
            {
                var expired = value.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase);
                if (value.StartsWith(CookieName + ".", StringComparison.Ordinal))
                {
                    var pair = value.Split(';', 2)[0];
                    var equals = pair.IndexOf('=', StringComparison.Ordinal);
                    if (equals > 0)
                    {
                        var (name, companion) = (pair[..equals], pair[(equals + 1)..]);
                        if (expired || companion.Length == 0)
                        {
                            Companions.Remove(name);
                        }
                        else
                        {
                            Companions[name] = companion;
                        }
                    }
                    continue;
                }
                if (!value.StartsWith(CookieName + "=", StringComparison.Ordinal))
                {
                    continue;
                }
                LastSetCookie = value;
                var cookieValue = value[(CookieName.Length + 1)..].Split(';', 2)[0];
                Cookie = expired || cookieValue.Length == 0 ? null : cookieValue;
            }
        }
        return response;
    }

    /// <summary>GETs a path and returns the body; throws unless the status is a success.</summary>
    /// <param name="path">The path.</param>
    /// <returns>The body.</returns>
    public async Task<string> GetStringAsync(string path)
    {
        using var response = await SendAsync(HttpMethod.Get, path);
        return await EnsureBody(response);
    }

    /// <summary>POSTs to a path without a body and returns the body; throws unless the status is a success.</summary>
    /// <param name="path">The path.</param>
    /// <returns>The body.</returns>
    public async Task<string> PostAsync(string path)
    {
        using var response = await SendAsync(HttpMethod.Post, path, new ByteArrayContent([]));
        return await EnsureBody(response);
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    private string? KeptCookieHeader()
    {
        if (Companions.Count == 0)
        {
            return Cookie is null ? null : $"{CookieName}={Cookie}";
        }
        var pairs = Companions.Select(c => $"{c.Key}={c.Value}");
        return string.Join("; ", Cookie is null ? pairs : pairs.Prepend($"{CookieName}={Cookie}"));
    }

    private static async Task<string> EnsureBody(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{(int)response.StatusCode} {response.StatusCode}: {body}", null, response.StatusCode);
        }
        return body;
    }
}
